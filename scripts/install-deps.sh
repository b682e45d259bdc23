#!/usr/bin/env bash
# Installs the Debian packages Keel needs, only those missing. With --test, also what the tests drive:
# real etcd and etcdctl (the reference), python3-etcd3, h2load, protoc-c (to check the committed C), openssl
# (the TLS tests make their certificates with it), and for the JSON gateway's tests PyPI's etcd3gw (pip) and
# Patroni with PostgreSQL, and libstdc++ for the fuzzers.
set -euo pipefail
packages=(libnghttp2-dev libprotobuf-c-dev liblmdb-dev libjemalloc-dev libcrypt-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(protobuf-c-compiler protobuf-compiler libprotobuf-dev etcd-server etcd-client python3-etcd3 nghttp2-client curl iproute2
               openssl python3-pip patroni postgresql)
    # libFuzzer's runtime is C++ (scripts/fuzz.sh links it with -lstdc++).
    packages+=(libstdc++-12-dev)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# etcd3gw is not packaged by Debian: PyPI, into Debian's python3 (the one the tests run).
if [[ "${1:-}" == "--test" ]] && ! /usr/bin/python3 -c "import etcd3gw" 2>/dev/null; then
    /usr/bin/python3 -m pip install --quiet --break-system-packages --root-user-action=ignore "etcd3gw==2.7.0"
fi
# The etcd-server package starts a system etcd on 2379; tests never use that port, but stop it so
# `scripts/run.sh` can serve Keel there.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl stop etcd || true
fi
