"""`postern mx` against a real DNS server (unbound on loopback, see
dns_fixture.py): every kind of zone delivery meets, with the exact output
and exit code (SPEC §2: 69 permanent, 75 temporary)."""
import pytest

from conftest import run
from dns_fixture import USUAL, usual_records

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = \
    64, 65, 69, 75, 78


@pytest.fixture
def usual(dns_zone):
    return dns_zone.usual()


def mx(dns, *args):
    return run(["mx", "--dns", dns.addr] + list(args))


def lines(p):
    return p.stdout.splitlines()


def test_fixture_refuses_everything_outside_the_test_zones(usual):
    # the fixture must never resolve anything from the internet
    assert usual.query("example.com", "A") == ("REFUSED", 0)
    assert usual.query("com", "NS") == ("REFUSED", 0)
    assert usual.query(".", "NS") == ("REFUSED", 0)
    assert usual.query("missing.test", "MX") == ("NXDOMAIN", 0)
    assert usual.query("multi.test", "MX") == ("NOERROR", 4)


def test_null_mx(usual):
    p = mx(usual, USUAL["nullmx"])
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p) == ["nullmx.test has a null MX (RFC 7505): it accepts "
                        "no mail"]


def test_multiple_mx_in_preference_order(usual):
    p = mx(usual, "multi.test")
    assert p.returncode == 0, p.stderr
    out = lines(p)
    assert out[0] == "multi.test: 4 MX hosts in delivery order " \
                     "(DNSSEC: insecure)"
    assert out[1] == "  10 mx1.multi.test -> ::1, 127.0.0.1"
    # the two preference-20 hosts come in either order, before the 30
    assert sorted(out[2:4]) == ["  20 mx2.multi.test -> 127.0.0.2",
                                "  20 mx3.multi.test -> 127.0.0.3"]
    assert out[4] == "  30 mx4.multi.test -> 127.0.0.4"
    assert out[5] == "hosts of equal preference are shuffled on every " \
                     "lookup"
    assert len(out) == 6


def test_equal_preferences_are_shuffled(usual):
    orders = set()
    for _ in range(20):
        p = mx(usual, "multi.test")
        assert p.returncode == 0
        orders.add(tuple(lines(p)[2:4]))
    # 20 lookups all in one order would happen once in 2^19
    assert len(orders) == 2


def test_implicit_mx_from_a_record(usual):
    p = mx(usual, "aonly.test")
    assert p.returncode == 0
    assert lines(p) == [
        "aonly.test: no MX; using the implicit MX (A/AAAA of aonly.test) "
        "(DNSSEC: insecure)",
        "  0 aonly.test -> 127.0.0.1"]


def test_implicit_mx_ipv6_only(usual):
    p = mx(usual, "v6only.test")
    assert p.returncode == 0
    assert lines(p)[1] == "  0 v6only.test -> ::1"


def test_mx_host_with_ipv6_only(usual):
    p = mx(usual, "v6mx.test")
    assert p.returncode == 0
    assert lines(p) == ["v6mx.test: 1 MX host in delivery order "
                        "(DNSSEC: insecure)",
                        "  10 mx.v6mx.test -> ::1"]


def test_missing_domain(usual):
    p = mx(usual, "missing.test")
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p) == ["missing.test does not exist"]


def test_domain_without_mx_or_address(usual):
    p = mx(usual, "nodata.test")
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p) == ["nodata.test has no MX and no A/AAAA records: it "
                        "cannot receive mail"]


def test_mx_whose_host_is_down_still_resolves(usual):
    # DNS is fine; that nothing listens on 127.0.0.9 is delivery's problem
    p = mx(usual, "down.test")
    assert p.returncode == 0
    assert lines(p) == ["down.test: 1 MX host in delivery order "
                        "(DNSSEC: insecure)",
                        "  10 mx.down.test -> 127.0.0.9"]


def test_null_mx_among_other_records_is_ignored(usual):
    p = mx(usual, "mixeddot.test")
    assert p.returncode == 0
    assert lines(p) == [
        "warning: mixeddot.test publishes a null MX (0 .) together with "
        "other MX records; the null MX is ignored",
        "mixeddot.test: 1 MX host in delivery order (DNSSEC: insecure)",
        "  10 mx.mixeddot.test -> 127.0.0.1"]


def test_cname_is_followed(usual):
    p = mx(usual, "alias.test")
    assert p.returncode == 0
    out = lines(p)
    assert out[0] == "alias.test is an alias (CNAME) of multi.test"
    assert out[1] == "alias.test: 4 MX hosts in delivery order " \
                     "(DNSSEC: insecure)"
    assert out[2] == "  10 mx1.multi.test -> ::1, 127.0.0.1"


def test_mx_hosts_without_address(usual):
    p = mx(usual, "noaddr.test")
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p) == [
        "noaddr.test: no MX host has an address: mail cannot be delivered",
        "noaddr.test: 1 MX host in delivery order (DNSSEC: insecure)",
        "  10 ghost.noaddr.test -> no address (NXDOMAIN)"]


def test_servfail_is_temporary(usual):
    p = mx(usual, "servfail.test")
    assert p.returncode == EX_TEMPFAIL
    assert lines(p) == ["servfail.test: temporary DNS failure (the "
                        "resolver answered SERVFAIL); try again later"]


def test_timeout_is_temporary(dns_blackhole):
    p = run(["mx", "--dns", dns_blackhole.addr, "--timeout", "2",
             "multi.test"])
    assert p.returncode == EX_TEMPFAIL
    assert lines(p) == ["multi.test: temporary DNS failure: no answer "
                        "within 2 seconds; try again later"]


def test_address_argument_and_case(usual):
    p = mx(usual, "Someone@NullMX.Test.")
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p) == ["nullmx.test has a null MX (RFC 7505): it accepts "
                        "no mail"]


def test_records_made_by_the_test(dns_zone):
    dns = dns_zone({"solo.example.": ["MX 5 in.solo.example."],
                    "in.solo.example.": ["A 127.0.0.1", "A 127.0.0.2"]})
    p = mx(dns, "solo.example")
    assert p.returncode == 0
    host, addrs = lines(p)[1].split(" -> ")
    assert host == "  5 in.solo.example"
    # the resolver may rotate the order of an RRset
    assert sorted(addrs.split(", ")) == ["127.0.0.1", "127.0.0.2"]


def config_with_dns(tmp_path, dns_addr, extra=""):
    conf = tmp_path / "postern.conf"
    conf.write_text(f"""[server]
spool = {tmp_path}/spool
[listener mx]
address = 127.0.0.1:2525
mode = mx
tls = none
[delivery]
dns = {dns_addr}
{extra}""")
    return conf


def test_resolver_from_config(usual, tmp_path):
    conf = config_with_dns(tmp_path, usual.addr)
    p = run(["mx", "nullmx.test", "-c", str(conf)])
    assert p.returncode == EX_UNAVAILABLE, p.stderr
    assert lines(p) == ["nullmx.test has a null MX (RFC 7505): it accepts "
                        "no mail"]


def test_dnssec_validation_makes_unsigned_test_zone_bogus(usual, tmp_path):
    # With the root trust anchor, the local (unsigned, undelegated) test
    # zone cannot be validated: bogus answers are a temporary failure.
    conf = config_with_dns(tmp_path, usual.addr,
                           "trust_anchor = /usr/share/dns/root.key\n")
    p = run(["mx", "multi.test", "-c", str(conf)])
    assert p.returncode == EX_TEMPFAIL, p.stdout + p.stderr
    assert p.stdout.startswith("multi.test: temporary DNS failure (DNSSEC "
                               "validation failed: ")


def test_bad_arguments():
    p = run(["mx"])
    assert p.returncode == EX_USAGE
    assert p.stderr.startswith("usage: postern mx DOMAIN")
    p = run(["mx", "--dns", "127.0.0.1:53", "not a domain"])
    assert p.returncode == EX_DATAERR
    assert p.stderr == "postern mx: 'not a domain' is not a domain name " \
                       "that can be looked up\n"
    p = run(["mx", "--dns", "nonsense", "multi.test"])
    assert p.returncode == EX_USAGE
    assert "dns = nonsense: not an IP address" in p.stderr
    p = run(["mx", "--timeout", "0", "multi.test"])
    assert p.returncode == EX_USAGE


def test_help():
    p = run(["mx", "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith("usage: postern mx DOMAIN [-c FILE] "
                               "[--dns HOST:PORT] [--timeout SECONDS]\n")


@pytest.mark.parametrize("domain,exit_code,out", [
    ("multi.test", 0, ["multi.test: policy check OK (DNS OK, DNSSEC: "
                       "insecure)", "multi.test accepts mail"]),
    ("aonly.test", 0, ["aonly.test: policy check OK (DNS OK, DNSSEC: "
                       "insecure)", "aonly.test accepts mail"]),
    ("down.test", 0, ["down.test: policy check OK (DNS OK, DNSSEC: "
                      "insecure)", "down.test accepts mail"]),
    # the cheap check does not resolve the MX hosts
    ("noaddr.test", 0, ["noaddr.test: policy check OK (DNS OK, DNSSEC: "
                        "insecure)", "noaddr.test accepts mail"]),
    ("mixeddot.test", 0, ["mixeddot.test: policy check OK (DNS OK, "
                          "DNSSEC: insecure)", "mixeddot.test accepts mail"]),
    ("nullmx.test", EX_UNAVAILABLE, [
        "nullmx.test: policy check NULL_MX (DNS NULL_MX, DNSSEC: insecure)",
        "nullmx.test has a null MX (RFC 7505): it accepts no mail"]),
    ("missing.test", EX_UNAVAILABLE, [
        "missing.test: policy check NO_DOMAIN (DNS NXDOMAIN, DNSSEC: "
        "insecure)", "missing.test does not exist"]),
    ("nodata.test", EX_UNAVAILABLE, [
        "nodata.test: policy check NO_DOMAIN (DNS NODATA, DNSSEC: "
        "insecure)", "nodata.test has no MX and no A/AAAA records: it "
        "cannot receive mail"]),
    ("servfail.test", EX_TEMPFAIL, [
        "servfail.test: policy check TEMPFAIL (DNS SERVFAIL, DNSSEC: "
        "insecure)", "servfail.test: temporary DNS failure (the resolver "
        "answered SERVFAIL); try again later"]),
])
def test_policy_check(usual, domain, exit_code, out):
    p = mx(usual, "--policy", domain)
    assert p.returncode == exit_code, p.stdout + p.stderr
    assert lines(p) == out


def test_policy_check_timeout(dns_blackhole):
    p = run(["mx", "--policy", "--dns", dns_blackhole.addr, "--timeout",
             "1", "multi.test"])
    assert p.returncode == EX_TEMPFAIL
    assert lines(p) == [
        "multi.test: policy check TEMPFAIL (DNS TIMEOUT, DNSSEC: insecure)",
        "multi.test: temporary DNS failure: no answer within 1 second; "
        "try again later"]


SIGNED = {
    "sec.test.": ["SOA ns.sec.test. hostmaster.sec.test. 1 3600 600 86400 "
                  "300", "NS ns.sec.test.", "MX 10 mx1.sec.test.",
                  "MX 20 mx2.sec.test."],
    "ns.sec.test.": ["A 127.0.0.1"],
    "mx1.sec.test.": ["A 127.0.0.1", "AAAA ::1"],
    "mx2.sec.test.": ["A 127.0.0.2"],
    "aonly.sec.test.": ["A 127.0.0.3"],
}


def signed_conf(tmp_path, dns):
    return config_with_dns(tmp_path, dns.addr,
                           f"trust_anchor = {dns.trust_anchor}\n")


def test_dnssec_secure_answers(dns_zone, tmp_path):
    dns = dns_zone(usual_records(), signed={"sec.test.": SIGNED})
    conf = signed_conf(tmp_path, dns)
    p = run(["mx", "sec.test", "-c", str(conf)])
    assert p.returncode == 0, p.stdout + p.stderr
    # the MX answer and every host's A and AAAA (NODATA proven by NSEC)
    assert lines(p) == ["sec.test: 2 MX hosts in delivery order (DNSSEC: "
                        "secure)",
                        "  10 mx1.sec.test -> ::1, 127.0.0.1",
                        "  20 mx2.sec.test -> 127.0.0.2"]
    p = run(["mx", "aonly.sec.test", "-c", str(conf)])
    assert lines(p)[0] == "aonly.sec.test: no MX; using the implicit MX " \
                          "(A/AAAA of aonly.sec.test) (DNSSEC: secure)"
    p = run(["mx", "--policy", "nothere.sec.test", "-c", str(conf)])
    assert p.returncode == EX_UNAVAILABLE
    assert lines(p)[0] == "nothere.sec.test: policy check NO_DOMAIN (DNS " \
                          "NXDOMAIN, DNSSEC: secure)"
    # zones outside the trust anchor stay insecure, and still resolve
    p = run(["mx", "multi.test", "-c", str(conf)])
    assert p.returncode == 0
    assert lines(p)[0] == "multi.test: 4 MX hosts in delivery order " \
                          "(DNSSEC: insecure)"


def test_dnssec_tampered_host_is_bogus(dns_zone, tmp_path):
    dns = dns_zone(signed={"sec.test.": SIGNED},
                   tamper={("mx2.sec.test.", "A 127.0.0.2"): "A 127.0.0.66"})
    conf = signed_conf(tmp_path, dns)
    p = run(["mx", "sec.test", "-c", str(conf)])
    assert p.returncode == 0, p.stdout + p.stderr
    # a bogus address is never used; the host's state is shown
    assert lines(p) == ["sec.test: 2 MX hosts in delivery order (DNSSEC: "
                        "secure)",
                        "  10 mx1.sec.test -> ::1, 127.0.0.1",
                        "  20 mx2.sec.test -> no address (SERVFAIL) "
                        "(DNSSEC: bogus)"]


def test_dnssec_tampered_mx_is_a_temporary_failure(dns_zone, tmp_path):
    dns = dns_zone(signed={"sec.test.": SIGNED},
                   tamper={("sec.test.", "MX 20 mx2.sec.test."):
                           "MX 20 evil.sec.test."})
    conf = signed_conf(tmp_path, dns)
    p = run(["mx", "sec.test", "-c", str(conf)])
    assert p.returncode == EX_TEMPFAIL
    assert lines(p)[0].startswith("sec.test: temporary DNS failure (DNSSEC "
                                  "validation failed: ")
    p = run(["mx", "--policy", "sec.test", "-c", str(conf)])
    assert p.returncode == EX_TEMPFAIL
    assert lines(p)[0] == "sec.test: policy check TEMPFAIL (DNS SERVFAIL, " \
                          "DNSSEC: bogus)"
