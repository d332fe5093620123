"""The spool failing under a transaction: the client gets 451 4.3.0,
nothing is queued, and the session goes on with the commands it
pipelined after the message."""
import os
import shutil

from smtp_util import (SMTPConn, check_354, fake_dns,  # noqa: F401
                       message, mx, spool_files, token)


def _break_tmp(srv):
    tmp = srv.spool / "tmp"
    shutil.rmtree(tmp)
    tmp.write_text("not a directory\n")
    return tmp


def _mend_tmp(tmp):
    os.unlink(tmp)
    os.mkdir(tmp, 0o700)


def test_spool_failure_gets_451_and_pipelined_commands_run(mx):
    srv = mx()
    tmp = _break_tmp(srv)
    try:
        for size in (100, 300 * 1024):  # one commit job / write jobs
            tok = token()
            body = message(tok, body=b"x" * 70 + b"\r\n")
            body += (b"y" * 998 + b"\r\n") * (size // 1000)
            with SMTPConn(srv.port) as c:
                c.ehlo()
                c.expect("MAIL FROM:<alice@example.org>", 250, "2.1.0",
                         "Ok")
                c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5",
                         "Ok")
                check_354(c.cmd("DATA"))
                # The end of the message and QUIT in the same write.
                c.send(body + b".\r\nQUIT\r\n")
                r = c.read_reply(timeout=15)
                assert (r.code, r.enh) == (451, "4.3.0"), r
                r = c.read_reply(timeout=5)
                assert (r.code, r.enh, r.text) == (221, "2.0.0", "Bye"), r
                c.expect_closed()
        assert spool_files(srv, "queue") == []
    finally:
        _mend_tmp(tmp)
    assert "event=spool-" in srv.log_text()
