#!/bin/sh
# Installs the Debian 12 packages Postern needs to build, test and run.
# Idempotent and quiet when everything is already there.
# Usage: scripts/deps.sh [build|check|bench]
set -eu
want="build-essential pkg-config libevent-dev libssl-dev libgsasl-dev
libunbound-dev libsqlite3-dev libsodium-dev libinih-dev openssl"
case "${1:-build}" in
check) want="$want libcmocka-dev clang libclang-rt-14-dev python3
python3-pytest python3-aiosmtpd swaks curl unbound sqlite3" ;;
bench) want="$want postfix unbound python3 time iproute2 dovecot-core" ;;
esac
missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# postfix asks debconf questions; answer "No configuration" up front.
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
