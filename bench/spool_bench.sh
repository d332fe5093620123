#!/bin/sh
# Durable spool commits per second at 1, 4 and 8 threads (1 KiB messages),
# in a scratch spool next to the build (same file system as a real spool
# under /var would be on a one-disk machine). Usage: bench/spool_bench.sh
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
cc -std=gnu11 -O2 -D_GNU_SOURCE -Isrc -o build/bench/spool_bench \
    bench/spool_bench.c src/queue/spool.c src/queue/dirsync.c \
    src/queue/queue_id.c src/util/xmalloc.c src/util/log.c -lpthread
dir=$(mktemp -d build/bench/spool.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for threads in 1 4 8; do
	rm -rf "$dir/queue" "$dir/tmp"
	build/bench/spool_bench "$dir" "$threads" $((2000 / threads)) 1024
done
