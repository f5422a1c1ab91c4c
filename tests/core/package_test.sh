#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then configures, builds and runs an outside
# project (tests/core/consumer) that finds the package with find_package(wsmetrics).
#   package_test.sh BUILD_DIR CONSUMER_SOURCE_DIR
set -euo pipefail
build=$1
consumer=$2
work=$(mktemp -d /tmp/wsm-package-XXXXXX)
trap 'rm -rf "$work"' EXIT

step() {  # runs a step quietly, showing its output only when it fails
  local what=$1; shift
  if ! "$@" >"$work/log" 2>&1; then
    echo "package test: $what failed:"; cat "$work/log"; exit 1
  fi
}
step "cmake --install" cmake --install "$build" --prefix "$work/prefix"
test -f "$work/prefix/include/wsm/writer.hpp" || { echo "writer.hpp not installed"; exit 1; }
step "configuring the consumer" cmake -S "$consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix"
step "building the consumer" cmake --build "$work/build" -j2
"$work/build/wsm_consumer" "t-package-$$"
