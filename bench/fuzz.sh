#!/usr/bin/env bash
# Fuzz every parser of outside input (tests/cli/fuzz.rs) with NETHUNT_FUZZ_CASES generated inputs
# per parser (default 1,000,000): arbitrary bytes and mutations of the real fixtures. Not part of
# CI (the test suite runs 2,000 per parser). Prints one line per parser and the total; a panic
# fails the run and prints proptest's minimal failing input.
#   bench/fuzz.sh                      # 1,000,000 per parser, debug build
#   NETHUNT_FUZZ_CASES=100000 bench/fuzz.sh --release
set -euo pipefail
cd "$(dirname "$0")/.."
export NETHUNT_FUZZ_CASES="${NETHUNT_FUZZ_CASES:-1000000}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
cargo test --locked "$@" --test cli -- fuzz:: --test-threads 2 2>&1 | tee "$log" | grep -E "^test fuzz::|panicked|minimal failing" || true
elapsed=$(( $(date +%s) - start ))
passed=$(grep -cE "^test fuzz::.* ok$" "$log" || true)
failed=$(grep -cE "^test fuzz::.* FAILED$" "$log" || true)
echo "fuzz: ${passed} parsers passed, ${failed} failed; ${NETHUNT_FUZZ_CASES} inputs each, $(( passed * NETHUNT_FUZZ_CASES )) inputs without a panic, in ${elapsed} s"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
