#!/usr/bin/env bash
# Puts etcd 3.4's .proto files (and the gogoproto / google.api ones they import) where check-protos.sh
# finds them, without installing ~180 Go source packages: the three Debian .debs are downloaded and
# unpacked under .build/etcd-protos. Prints the gocode root to use as KEEL_GOCODE.
set -euo pipefail
cd "$(dirname "$0")/.."
system=/usr/share/gocode/src
if [ -f "$system/go.etcd.io/etcd/etcdserver/etcdserverpb/rpc.proto" ] \
    && [ -f "$system/github.com/gogo/protobuf/gogoproto/gogo.proto" ] \
    && [ -f "$system/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis/google/api/annotations.proto" ]; then
    echo "$system"
    exit 0
fi
dest="$PWD/.build/etcd-protos"
if [ ! -f "$dest/usr/share/gocode/src/go.etcd.io/etcd/etcdserver/etcdserverpb/rpc.proto" ]; then
    mkdir -p "$dest/debs"
    (cd "$dest/debs" && apt-get download -qq golang-etcd-server-dev golang-github-gogo-protobuf-dev \
        golang-github-grpc-ecosystem-grpc-gateway-dev >/dev/null)
    for deb in "$dest"/debs/*.deb; do dpkg-deb -x "$deb" "$dest"; done
fi
echo "$dest/usr/share/gocode/src"
