#!/bin/sh
# Runs each libFuzzer target for FUZZ_SECONDS over its corpus in
# tests/fuzz/corpus/<name>/ (new inputs go to build/fuzz/corpus/<name>).
set -eu
secs=${FUZZ_SECONDS:-60}
for t in "$@"; do
	name=$(basename "$t")
	seed=tests/fuzz/corpus/$name
	work=build/fuzz/corpus/$name
	mkdir -p "$seed" "$work"
	echo "fuzz: $name for ${secs}s"
	"$t" -max_total_time="$secs" -print_final_stats=0 -timeout=10 \
	    -rss_limit_mb=2048 "$work" "$seed" >build/fuzz/$name.log 2>&1 || {
		tail -n 40 build/fuzz/$name.log
		echo "fuzz: $name FAILED (log: build/fuzz/$name.log)"
		exit 1
	}
done
