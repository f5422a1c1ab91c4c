#!/usr/bin/env bash
# Runs ctest in a sanitizer build tree; exits 77 (skipped) when that tree was not built.
dir=$1
if [ ! -f "$dir/CTestTestfile.cmake" ]; then
  echo "sanitizer build $dir not found: scripts/test builds it"
  exit 77
fi
# TSan needs the fixed mapping layout that ASLR with high entropy breaks on newer kernels.
exec setarch "$(uname -m)" -R ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600
