#!/usr/bin/env bash
# run_fuzzer.sh TARGET SECONDS SEEDS REGRESSIONS: fuzz for SECONDS from a scratch copy of the seeds
# (the source tree is never written). A crash fails the test and names the input to keep.
set -u
target=$1 seconds=$2 seeds=$3 regressions=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null
"$target" -max_total_time="$seconds" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$regressions" 2>&1 | tail -25
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  keep=$(dirname "$(dirname "$seeds")")/found
  mkdir -p "$keep"
  cp "$work"/artifacts/* "$keep"/ 2>/dev/null
  echo "fuzzer failed (exit $rc): inputs copied to $keep; add each under $regressions/<bug-name>"
fi
exit "$rc"
