#!/usr/bin/env bash
# One command to a serving member: install what is missing, build (release), start a single member on
# 127.0.0.1:2379 with etcd's default data dir (./default.etcd). Any etcd flag may be appended.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product keel
exec .build/release/keel --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 "$@"
