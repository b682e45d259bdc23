#!/usr/bin/env bash
# One command to a tested tree: install what is missing, check the committed protoc-c output is current
# and our .proto files wire-identical to etcd 3.4's,
# build everything (the interop tests run the real `keel` binary), run every test, replay the fuzz corpora
# and fuzz each parser briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
KEEL_GOCODE="$(scripts/fetch-etcd-protos.sh)" scripts/check-protos.sh
swift build --build-tests
swift test --skip-build
# Every fuzz seed and every input that once crashed a parser, replayed by the normal build (fuzz/README.md),
# then each fuzz target for a few seconds in the instrumented build.
for target in wal-segment snapshot proto-request gateway-json grpc-http2 raft-message; do
    .build/debug/keel-fuzz "$target" "fuzz/corpus/$target" "fuzz/regressions/$target"
done
# The instrumented build takes minutes on a fresh machine; KEEL_SKIP_FUZZ=1 leaves the fuzzing out.
if [[ "${KEEL_SKIP_FUZZ:-0}" != 1 ]]; then FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz.sh; fi
