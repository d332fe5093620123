"""DNSSEC signing of small test zones, for the DNS fixture.

sign_zone() signs every RRset of a zone with one ECDSA P-256 key
(algorithm 13, RFC 6605), builds the NSEC chain so that NXDOMAIN and
NODATA are provable (RFC 4034), and returns the zone file text for
unbound's auth-zone and the trust anchor line (the zone's DNSKEY) for a
validating resolver. Records given in `tamper` are swapped after signing,
so their signatures no longer verify: a bogus answer on purpose. Uses
python3-cryptography from Debian; nothing here touches the network.
"""
import base64
import ipaddress
import struct
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
         "RRSIG": 46, "NSEC": 47, "DNSKEY": 48}
ALG_ECDSAP256SHA256 = 13


def wire_name(name):
    labels = [lab for lab in name.rstrip(".").lower().split(".") if lab]
    return b"".join(bytes([len(lab)]) + lab.encode() for lab in labels) + \
        b"\0"


def rdata(rtype, text):
    f = text.split()
    if rtype == "A":
        return ipaddress.IPv4Address(f[0]).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(f[0]).packed
    if rtype == "NS":
        return wire_name(f[0])
    if rtype == "MX":
        return struct.pack(">H", int(f[0])) + wire_name(f[1])
    if rtype == "TXT":
        s = text.strip().strip('"').encode()
        return bytes([len(s)]) + s
    if rtype == "SOA":
        return wire_name(f[0]) + wire_name(f[1]) + \
            struct.pack(">IIIII", *map(int, f[2:7]))
    raise ValueError(f"cannot sign type {rtype}")


def key_tag(rd):
    """RFC 4034 Appendix B."""
    ac = 0
    for i, b in enumerate(rd):
        ac += b << 8 if i % 2 == 0 else b
    ac += (ac >> 16) & 0xFFFF
    return ac & 0xFFFF


def _canonical(name):
    return list(reversed(name.rstrip(".").lower().split(".")))


def _bitmap(types):
    nums = sorted(TYPES[t] for t in types)
    out = bytearray(nums[-1] // 8 + 1)
    for n in nums:
        out[n // 8] |= 0x80 >> (n % 8)
    return bytes([0, len(out)]) + bytes(out)


def _rrsets(zone, records, dnskey_text, dnskey):
    sets = {}
    for name, rrs in records.items():
        for rr in rrs:
            t, text = rr.split(None, 1)
            sets.setdefault((name.lower(), t), []).append(
                (text, rdata(t, text)))
    sets[(zone, "DNSKEY")] = [(dnskey_text, dnskey)]
    names = sorted({n for n, _ in sets}, key=_canonical)
    for i, n in enumerate(names):
        nxt = names[(i + 1) % len(names)]
        types = sorted({t for (m, t) in sets if m == n} | {"RRSIG", "NSEC"})
        sets[(n, "NSEC")] = [(f"{nxt} {' '.join(types)}",
                              wire_name(nxt) + _bitmap(types))]
    return sets


def _stamp(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def sign_zone(zone, records, ttl=300, tamper=None):
    """records: {name: ["TYPE rdata", ...]}, names absolute and in zone,
    the apex with its SOA and NS. Returns (zonefile, trust_anchor)."""
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    pub = nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")
    dnskey = struct.pack(">HBB", 257, 3, ALG_ECDSAP256SHA256) + pub
    dnskey_text = f"257 3 13 {base64.b64encode(pub).decode()}"
    tag = key_tag(dnskey)
    now = int(time.time())
    inception, expiration = now - 3600, now + 7 * 86400
    lines = []
    for (name, t), rrs in sorted(_rrsets(zone, records, dnskey_text,
                                         dnskey).items()):
        labels = len([lab for lab in name.rstrip(".").split(".") if lab])
        data = struct.pack(">HBBIIIH", TYPES[t], ALG_ECDSAP256SHA256,
                           labels, ttl, expiration, inception, tag) + \
            wire_name(zone)
        for _, rd in sorted(rrs, key=lambda x: x[1]):
            data += wire_name(name) + struct.pack(">HHIH", TYPES[t], 1, ttl,
                                                  len(rd)) + rd
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(
            hashes.SHA256())))
        sig = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        for text, _ in rrs:
            rr = f"{t} {text}"
            rr = (tamper or {}).get((name, rr), rr)
            lines.append(f"{name} {ttl} IN {rr}")
        lines.append(f"{name} {ttl} IN RRSIG {t} 13 {labels} {ttl} "
                     f"{_stamp(expiration)} {_stamp(inception)} {tag} "
                     f"{zone} {sig.decode()}")
    return "\n".join(lines) + "\n", f"{zone} IN DNSKEY {dnskey_text}\n"
