#!/usr/bin/env bash
# Runs every fuzz target of the root module for FUZZTIME each (go test runs
# one target per invocation). New failing inputs land in the package's
# testdata/fuzz/<Target>/ and become regression seeds: commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
go=${GO:-go}
failed=0
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' pkg services cmd | xargs -n1 dirname | sort -u); do
  pkg=./$dir
  # Names read from the source: go test -list would build each test binary
  # once more before -fuzz builds it with coverage instrumentation.
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$dir"/*_test.go); do
    echo "== $pkg $target ($fuzztime)"
    if ! $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      failed=1
    fi
  done
done
exit $failed
