#!/usr/bin/env bash
# One command to a tested tree: install what is missing, check the committed protoc-c output is current
# and our .proto files wire-identical to etcd 3.4's,
# build everything (the interop tests run the real `keel` binary), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
KEEL_GOCODE="$(scripts/fetch-etcd-protos.sh)" scripts/check-protos.sh
swift build --build-tests
swift test --skip-build
