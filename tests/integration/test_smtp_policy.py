"""Recipient policy of the MX role (core issue #2 item 5): local domains,
users and aliases from the SQLite store (`postern user add`, `postern alias
add`), unknown users 550 5.1.1, postmaster@ every local domain, plus
addressing, case-insensitive local parts, relay denial; and a submission
listener that refuses MAIL until AUTH."""
import time

import pytest

import smtp_util
from smtp_util import (PASSWORD, SMTPConn, cat_reply, message, split_message,
                       token, token_holders, wait_token)

fake_dns = smtp_util.fake_dns
mx = smtp_util.mx
shared_mx = smtp_util.shared_mx

RELAY_DENIED = (554, "5.7.1", "Relay access denied")


def rcpt(srv, address, sender="alice@example.org"):
    """The reply to RCPT TO:<address> in a fresh transaction."""
    with SMTPConn(srv.port) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{sender}>", 250, "2.1.0", "Ok")
        return c.cmd(f"RCPT TO:<{address}>")


def deliver(srv, address, tok):
    with SMTPConn(srv.port) as c:
        c.ehlo()
        return c.transaction("alice@example.org", [address],
                             message(tok, to=address))


@pytest.mark.parametrize("address", [
    "nosuchuser@example.test", "nosuchuser@example.org",
    "alice@example.org",          # alice exists only in example.test
    "carol@example.test",         # carol exists only in example.org
    "alice%remote.example@example.test",
    "alic@example.test",
])
def test_unknown_local_user(shared_mx, address):
    r = rcpt(shared_mx, address)
    assert (r.code, r.enh, r.text) == cat_reply("UNKNOWN_USER"), r


@pytest.mark.parametrize("address", [
    "someone@remote.example", "alice@example.net",
    "alice@sub.example.test", "alice@example.test.remote.example",
    "@example.test:bob@remote.example",   # source route: dropped, remote
    "alice@[127.0.0.1]",
])
def test_relay_is_denied(shared_mx, address):
    r = rcpt(shared_mx, address)
    assert (r.code, r.enh, r.text) == RELAY_DENIED, r


def test_relay_denied_also_for_local_sender(shared_mx):
    r = rcpt(shared_mx, "someone@remote.example", sender="alice@example.test")
    assert (r.code, r.enh, r.text) == RELAY_DENIED, r
    r = rcpt(shared_mx, "someone@remote.example", sender="")
    assert (r.code, r.enh, r.text) == RELAY_DENIED, r


def test_mixed_recipients_deliver_only_local(shared_mx):
    tok = token()
    with SMTPConn(shared_mx.port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0", "Ok")
        c.expect("RCPT TO:<someone@remote.example>", *RELAY_DENIED)
        c.expect("RCPT TO:<bob@example.test>", 250, "2.1.5", "Ok")
        c.expect("RCPT TO:<nosuchuser@example.test>", 550, "5.1.1")
        c.send(b"DATA\r\n")
        assert c.read_reply().code == 354
        c.send(message(tok) + b".\r\n")
        smtp_util.queued_id(c.read_reply())
    wait_token(shared_mx, "bob@example.test", tok)
    time.sleep(0.3)
    assert len(token_holders(shared_mx, tok)) == 1


@pytest.mark.parametrize("address", [
    "postmaster@example.test", "postmaster@example.org",
    "Postmaster@Example.Org", "POSTMASTER@EXAMPLE.TEST", "Postmaster",
    "postmaster",
])
def test_postmaster_is_always_accepted(shared_mx, address):
    r = rcpt(shared_mx, address)
    assert (r.code, r.enh, r.text) == (250, "2.1.5", "Ok"), r


def test_postmaster_without_alias_goes_to_first_local_domain(mx):
    srv = mx(users=(), aliases={})
    for address in ("postmaster@example.org", "postmaster@example.test",
                    "Postmaster"):
        tok = token()
        deliver(srv, address, tok)
        wait_token(srv, "postmaster@example.test", tok)
        time.sleep(0.2)
        assert len(token_holders(srv, tok)) == 1


def test_postmaster_alias(mx):
    srv = mx(aliases={"postmaster@example.org": "carol@example.org"})
    tok = token()
    deliver(srv, "postmaster@example.org", tok)
    wait_token(srv, "carol@example.org", tok)
    time.sleep(0.2)
    assert len(token_holders(srv, tok)) == 1
    tok = token()
    deliver(srv, "postmaster@example.test", tok)   # no alias there
    wait_token(srv, "postmaster@example.test", tok)


def test_plus_addressing(shared_mx):
    tok = token()
    deliver(shared_mx, "alice+lists@example.test", tok)
    msg = wait_token(shared_mx, "alice@example.test", tok)[0]
    headers, _ = split_message(msg)
    assert headers[1][0] == "Delivered-To", headers[:3]
    assert headers[1][1].lower() in ("alice+lists@example.test",
                                     "alice@example.test"), headers[1]


def test_plus_addressing_with_case(shared_mx):
    tok = token()
    deliver(shared_mx, "User+tag@Example.Test", tok)
    wait_token(shared_mx, "user@example.test", tok)
    time.sleep(0.2)
    assert len(token_holders(shared_mx, tok)) == 1


def test_plus_tag_does_not_make_unknown_users_known(shared_mx):
    r = rcpt(shared_mx, "nosuchuser+alice@example.test")
    assert (r.code, r.enh) == (550, "5.1.1"), r


@pytest.mark.parametrize("address", ["ALICE@example.test",
                                     "Alice@EXAMPLE.TEST",
                                     "aLiCe@Example.Test"])
def test_local_part_and_domain_are_case_insensitive(shared_mx, address):
    tok = token()
    deliver(shared_mx, address, tok)
    wait_token(shared_mx, "alice@example.test", tok)
    assert shared_mx.maildir(address) == shared_mx.maildir(
        "alice@example.test")


def test_alias_is_delivered_to_its_target(shared_mx):
    tok = token()
    deliver(shared_mx, "info@example.org", tok)
    msg = wait_token(shared_mx, "carol@example.org", tok)[0]
    assert msg.startswith(b"Return-Path: <alice@example.org>\n")
    time.sleep(0.2)
    assert len(token_holders(shared_mx, tok)) == 1
    assert not shared_mx.maildir("info@example.org").exists()


def test_alias_with_several_targets(shared_mx):
    tok = token()
    deliver(shared_mx, "Sales@Example.Test", tok)
    wait_token(shared_mx, "alice@example.test", tok)
    wait_token(shared_mx, "bob@example.test", tok)
    time.sleep(0.2)
    assert len(token_holders(shared_mx, tok)) == 2


def test_alias_plus_tag(shared_mx):
    tok = token()
    deliver(shared_mx, "info+x@example.org", tok)
    wait_token(shared_mx, "carol@example.org", tok)


def test_user_added_while_running_is_accepted(mx):
    srv = mx(users=("alice@example.test",), aliases={})
    r = rcpt(srv, "dave@example.test")
    assert (r.code, r.enh) == (550, "5.1.1"), r
    srv.cli("user", "add", "dave@example.test", input=PASSWORD + "\n",
            check=True)
    r = rcpt(srv, "dave@example.test")
    assert (r.code, r.enh, r.text) == (250, "2.1.5", "Ok"), r
    tok = token()
    deliver(srv, "dave@example.test", tok)
    wait_token(srv, "dave@example.test", tok)


def test_deleted_user_is_refused(mx):
    srv = mx(users=("alice@example.test", "erin@example.test"), aliases={})
    assert rcpt(srv, "erin@example.test").code == 250
    srv.cli("user", "del", "erin@example.test", check=True)
    r = rcpt(srv, "erin@example.test")
    assert (r.code, r.enh) == (550, "5.1.1"), r


def test_alias_added_while_running(mx):
    srv = mx(users=("alice@example.test",), aliases={})
    assert rcpt(srv, "team@example.test").code == 550
    srv.cli("alias", "add", "team@example.test", "alice@example.test",
            check=True)
    tok = token()
    deliver(srv, "team@example.test", tok)
    wait_token(srv, "alice@example.test", tok)


def test_submission_listener_requires_auth(mx):
    srv = mx({"listener sub": {"mode": "submission", "tls": "none",
                               "auth": "required"}})
    with SMTPConn(srv.ports["sub"]) as c:
        assert c.greeting.code == 220
        r = c.ehlo()
        assert "PIPELINING" in [line[4:] for line in r.lines], r
        r = c.cmd("MAIL FROM:<alice@example.test>")
        assert str(r) == "530 5.7.0 Authentication required", r
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        # not even local mail goes in without AUTH, nor relayed mail
        r = c.cmd("MAIL FROM:<> SIZE=100")
        assert str(r) == "530 5.7.0 Authentication required", r
        c.expect("NOOP", 250, "2.0.0", "Ok")
        c.expect("QUIT", 221, "2.0.0", "Bye")
    # the MX listener of the same server is unaffected
    tok = token()
    deliver(srv, "alice@example.test", tok)
    wait_token(srv, "alice@example.test", tok)
