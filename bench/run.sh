#!/bin/bash
# make bench: Postern side by side with Postfix, OpenSMTPD and Postfix's
# smtp-sink, each loaded in turn by Postfix's smtp-source on loopback.
#
# Also AUTH handshakes per second (Postfix with Dovecot SASL) and delivery
# throughput to an smtp-sink on 127.0.0.9 (docs/benchmarks.md).
#
# This script prepares what the peers need (OpenSMTPD unpacked from its
# Debian package into build/bench/opensmtpd, since its package conflicts
# with postfix; the system users it runs as), then re-enters itself in a
# private mount namespace where /etc/resolv.conf points at the bench's own
# unbound on 127.0.0.1, and runs bench/bench.py there. Every daemon the
# bench starts is stopped on exit, also on error or ^C (trap EXIT).
#
# Environment: BENCH_QUICK=1 (smoke run, about two minutes),
# BENCH_SERVERS=postern,postfix,opensmtpd,sink (a subset),
# BENCH_PHASES=idle,load,auth,deliver (a subset of the measurements),
# BENCH_SECONDS=N (target length of one timed run, default 5).
# Output: a Markdown table on stdout and in build/bench/results.md,
# the same figures in build/bench/results.json.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build/bench
PY=/usr/bin/python3
export BENCH_ROOT=$ROOT BENCH_DIR=$B

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (mount namespace, postfix)"

# The last of the downloaded opensmtpd packages, or nothing.
newest_deb() {
	local f last=""
	for f in "$B"/dl/opensmtpd_*.deb; do
		[ -e "$f" ] && last=$f
	done
	echo "$last"
}

# OpenSMTPD's Debian package conflicts with postfix: fetch it with apt,
# unpack it privately, and install only the libraries it links with.
fetch_opensmtpd() {
	local deb libs missing p
	mkdir -p "$B/dl"
	deb=$(newest_deb)
	if [ -z "$deb" ]; then
		echo "bench: fetching opensmtpd with apt-get download" >&2
		if ! (cd "$B/dl" && apt-get download -qq opensmtpd \
		    >/dev/null 2>&1); then
			apt-get update -qq >/dev/null
			(cd "$B/dl" && apt-get download -qq opensmtpd \
			    >/dev/null 2>&1) ||
			    die "apt-get download opensmtpd failed"
		fi
		deb=$(newest_deb)
		[ -n "$deb" ] || die "apt-get download opensmtpd: no .deb"
	fi
	if [ ! -x "$B/opensmtpd/usr/sbin/smtpd" ]; then
		rm -rf "$B/opensmtpd"
		dpkg -x "$deb" "$B/opensmtpd"
	fi
	# Libraries from its Depends: line (lib*, zlib1g), without versions.
	libs=$(dpkg-deb -f "$deb" Depends | tr ',|' '\n' |
	    sed 's/(.*)//; s/[[:space:]]//g' | grep -E '^(lib|zlib)' || true)
	missing=""
	for p in $libs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "bench: installing libraries for opensmtpd:$missing" >&2
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends $missing >/dev/null
	fi
	if ldd "$B/opensmtpd/usr/sbin/smtpd" | grep -q 'not found'; then
		ldd "$B/opensmtpd/usr/sbin/smtpd" | grep 'not found' >&2
		die "opensmtpd: shared libraries missing"
	fi
}

# Debian builds OpenSMTPD to run as opensmtpd and opensmtpq.
make_users() {
	local u
	for u in opensmtpd opensmtpq; do
		id "$u" >/dev/null 2>&1 && continue
		useradd --system --user-group --no-create-home \
		    --home-dir /var/lib/opensmtpd/empty \
		    --shell /usr/sbin/nologin "$u"
	done
}

# Stops whatever bench.py left running (it stops its daemons itself; this
# is the safety net for a crash or a signal). Pids are the ones bench.py
# recorded when it started each daemon.
cleanup() {
	local f pid conf
	for f in "$B"/run/pids/*.postfix; do
		[ -e "$f" ] || continue
		conf=$(cat "$f")
		if [ -f "$conf/main.cf" ]; then
			postfix -c "$conf" stop >/dev/null 2>&1 || true
		fi
	done
	for f in "$B"/run/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		# Each daemon leads its own process group (bench.py starts it
		# in a new session): KILL takes its children along.
		kill -KILL -- "-$pid" 2>/dev/null || true
	done
	rm -f "$B"/run/pids/*.pid "$B"/run/pids/*.postfix
}

inside() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$B/run/etc"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    >"$B/run/etc/resolv.conf"
	# Only this namespace (the bench and what it starts) sees it.
	mount --bind "$B/run/etc/resolv.conf" /etc/resolv.conf
	"$PY" "$ROOT/bench/bench.py"
}

if [ "${BENCH_IN_NS:-}" = 1 ]; then
	inside
	exit 0
fi

for t in smtp-source smtp-sink postfix unbound unshare dovecot; do
	command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh bench)"
done
case ",${BENCH_SERVERS:-opensmtpd}," in
*,opensmtpd,*)
	fetch_opensmtpd
	make_users
	;;
esac
rm -rf "$B/run"
mkdir -p "$B/run/pids"
BENCH_IN_NS=1 exec unshare --mount --propagation private -- "$0" "$@"
