// swift-tools-version:6.0
// Keel: an etcd-v3-compatible, Raft-replicated, MVCC key-value server.
// One module per box of ARCHITECTURE.md; C libraries come from Debian through pkg-config.
import PackageDescription

let package = Package(
    name: "Keel",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "keel", targets: ["keel"]),
        .executable(name: "raft-bench", targets: ["RaftBench"]),
        .executable(name: "keel-bench", targets: ["KeelBench"]),
        .executable(name: "keel-fuzz", targets: ["KeelFuzz"]),
        // An async/await etcd v3 client (KV, Txn, Watch, Lease, Cluster, Maintenance) for other packages.
        .library(name: "KeelClient", targets: ["KeelClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // /metrics in Prometheus' text format (it brings apple/swift-metrics, whose factory it implements).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // C libraries (Debian -dev packages).
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "CXCrypt", pkgConfig: "libxcrypt", providers: [.apt(["libcrypt-dev"])]),

        // protoc-c output for Protos/ (committed; regenerate with scripts/gen-protos.sh).
        .target(name: "EtcdProto", dependencies: ["CProtobufC"]),

        // A linearizability checker for KV histories (Wing–Gong / Porcupine style), for robustness tests.
        .target(name: "Linearizability"),
        // Consensus: a pure state machine, standard library only.
        .target(name: "Raft"),
        // CRC32C with the CPU's instruction (x86-64 SSE4.2), checked for at run time.
        .target(name: "CCRC32C"),
        // Write-ahead log and snapshot files.
        .target(name: "WAL", dependencies: ["CCRC32C"]),
        // LMDB backend: buckets, batched transactions, quota.
        .target(name: "Backend", dependencies: ["CLMDB"]),
        // Multi-version store: revisions, key index, range/txn/compaction semantics.
        .target(name: "MVCC", dependencies: ["Backend"]),
        // etcd's flags and ETCD_* variables.
        .target(name: "KeelConfig"),
        // Sockets (SwiftNIO) + HTTP/2 framing (nghttp2) + HTTP/1.1 on one port.
        .target(name: "Transport", dependencies: [
            "CNGHTTP2",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "X509", package: "swift-certificates"),
        ]),
        // gRPC on top of Transport: framing, status, routing, client.
        .target(name: "RPC", dependencies: [
            "Transport", "CNGHTTP2",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Raft messages between members: HTTP/2 streams per peer, snapshots streamed in chunks.
        .target(name: "PeerTransport", dependencies: [
            "RPC", "Transport", "Raft",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // HTTP/JSON gateway (etcd's grpc-gateway conventions): a proto3-JSON codec driven by protobuf-c
        // descriptors; routes join here as their services exist. Lives in Gateway/ by the design card.
        .target(name: "Gateway", dependencies: [
            "EtcdProto", "CProtobufC", "RPC", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
        ], path: "Gateway"),
        // The etcd server: services, validation, the write path, apply.
        .target(name: "EtcdServer", dependencies: [
            "RPC", "Transport", "EtcdProto", "CProtobufC", "MVCC", "Backend", "WAL", "KeelConfig", "Raft",
            "PeerTransport", "Gateway", "CXCrypt",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Atomics", package: "swift-atomics"),
            .product(name: "HeapModule", package: "swift-collections"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            // --auto-tls: self-signed certificates.
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // jemalloc's options for the server (purging freed pages in the background).
        .target(name: "CJemallocConfig"),
        .executableTarget(name: "keel", dependencies: [
            "EtcdServer", "KeelConfig", "CJemallocConfig",
            .product(name: "Logging", package: "swift-log"),
        ], linkerSettings: [
            // jemalloc (Debian libjemalloc-dev) instead of glibc malloc: a third less CPU per request
            // on the leader, whose event loops churn through buffers (benchmarks/README.md).
            .linkedLibrary("jemalloc"),
        ]),
        .executableTarget(name: "RaftBench", dependencies: ["Raft"]),
        // The etcd v3 client library: gRPC over our nghttp2 client, messages through protobuf-c.
        .target(name: "KeelClient", dependencies: [
            "RPC", "Transport", "EtcdProto", "CProtobufC",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // etcd's `benchmark` tool on KeelClient, for Keel and etcd alike.
        .executableTarget(name: "KeelBench", dependencies: [
            "KeelClient", "RPC", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], linkerSettings: [
            // jemalloc, as the server: glibc's malloc and free were ~10% of the load generator's CPU,
            // which shares the machine's cores with the servers it measures (etcd's and Keel's alike).
            .linkedLibrary("jemalloc"),
        ]),

        // libFuzzer targets for every parser of untrusted input; replays corpora in any build (fuzz/README.md).
        .executableTarget(name: "KeelFuzz", dependencies: [
            "WAL", "Gateway", "EtcdProto", "CProtobufC", "RPC", "Transport", "Raft",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),

        .testTarget(name: "RaftTests", dependencies: ["Raft"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport"]),
        .testTarget(name: "LinearizabilityTests", dependencies: ["Linearizability"]),
        .testTarget(name: "GatewayTests", dependencies: [
            "Gateway", "EtcdProto", "CProtobufC", "RPC", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "WALTests", dependencies: ["WAL"]),
        .testTarget(name: "EtcdServerTests", dependencies: [
            "EtcdServer", "Raft", "MVCC", "Backend", "WAL",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "PeerTransportTests", dependencies: [
            "PeerTransport", "Raft", "RPC", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "MVCCTests", dependencies: ["MVCC", "Backend"]),
        .testTarget(name: "KeelConfigTests", dependencies: ["KeelConfig"]),
        .testTarget(name: "RPCTests", dependencies: [
            "RPC", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // KeelClient against the real keel binary and real etcd; keel-bench smoke runs.
        .testTarget(name: "KeelClientTests", dependencies: [
            "KeelClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "InteropTests", dependencies: [
            "EtcdServer", "RPC", "Transport", "EtcdProto", "CProtobufC", "KeelConfig", "Linearizability",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ]
)
