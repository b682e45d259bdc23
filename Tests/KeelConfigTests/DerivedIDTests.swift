import Testing
@testable import KeelConfig

/// Member and cluster ids. The expected numbers were read from real etcd 3.4.23 started with
/// these exact flags (`etcdctl endpoint status -w json` / `member list -w json`); the ids only
/// depend on the peer URLs and the cluster token, so they are reproducible.
@Suite struct DerivedIDTests {
    @Test func sha1KnownVectors() {
        func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex(SHA1.digest([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.digest(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.digest([UInt8](repeating: 0x61, count: 1_000))) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func defaultMemberMatchesRealEtcd() throws {
        // etcd --name default (advertise peer http://localhost:2380, token etcd-cluster)
        let (c, _) = try #require(runConfig([]))
        #expect(c.localMemberID == 10_276_657_743_932_975_437)
        #expect(c.initialCluster.clusterID == 14_841_639_068_965_178_418)
        let ids = try c.verifyBootstrap().get()
        #expect(ids.memberID == 10_276_657_743_932_975_437 && ids.clusterID == 14_841_639_068_965_178_418)
    }

    @Test func fixedPortsMemberMatchesRealEtcd() throws {
        let (c, _) = try #require(runConfig([
            "--name", "n1", "--listen-client-urls", "http://127.0.0.1:23792", "--advertise-client-urls", "http://127.0.0.1:23792",
            "--listen-peer-urls", "http://127.0.0.1:23802", "--initial-advertise-peer-urls", "http://127.0.0.1:23802",
            "--initial-cluster", "n1=http://127.0.0.1:23802",
        ]))
        let ids = try c.verifyBootstrap().get()
        #expect(ids.memberID == 185_828_541_645_115_251)
        #expect(ids.clusterID == 8_140_765_981_764_738_059)
    }

    @Test func twoPeerURLsAndCustomTokenMatchRealEtcd() throws {
        let (c, _) = try #require(runConfig([
            "--name", "n1", "--initial-cluster-token", "tok-xyz",
            "--initial-advertise-peer-urls", "http://127.0.0.1:23802,http://localhost:23802",
            "--initial-cluster", "n1=http://localhost:23802,n1=http://127.0.0.1:23802",
        ]))
        let ids = try c.verifyBootstrap().get()
        #expect(ids.memberID == 12_075_515_561_408_578_801)
        #expect(ids.clusterID == 8_172_973_715_143_214_924)
    }

    @Test func threeMemberClusterID() throws {
        // Cross-checked with an independent Python hashlib computation of etcd's formulas.
        let (c, _) = try #require(runConfig([
            "--name", "m2", "--initial-cluster-token", "k8s-token", "--initial-advertise-peer-urls", "http://10.0.0.2:2380",
            "--initial-cluster", "m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m3=http://10.0.0.3:2380",
        ]))
        #expect(c.initialCluster.members.map(\.id) == [10_124_527_115_748_878_884, 13_747_603_002_771_732_217, 13_502_364_896_937_029_914])
        #expect(c.initialCluster.clusterID == 14_625_936_767_525_063_595)
        #expect(try c.verifyBootstrap().get().memberID == 13_747_603_002_771_732_217)
    }

    @Test func bootstrapChecks() throws {
        let (missing, _) = try #require(runConfig(["--name", "n1", "--initial-cluster", "n2=http://localhost:2380"]))
        #expect(missing.verifyBootstrap().failureMessage == "couldn't find local name \"n1\" in the initial cluster configuration")

        let (dup, _) = try #require(runConfig(["--initial-cluster", "default=http://localhost:2380,b=http://localhost:2380"]))
        #expect(dup.verifyBootstrap().failureMessage == "initial cluster b=http://localhost:2380,default=http://localhost:2380 has duplicate url")

        let (extra, _) = try #require(runConfig([
            "--name", "a", "--initial-advertise-peer-urls", "http://10.0.0.1:2380,http://10.0.0.9:2380",
            "--initial-cluster", "a=http://10.0.0.1:2380",
        ]))
        #expect(extra.verifyBootstrap().failureMessage == "--initial-advertise-peer-urls has http://10.0.0.9:2380 but missing from --initial-cluster=a=http://10.0.0.1:2380,a=http://10.0.0.9:2380")

        // Empty: accepted at parse time (etcd ignores it for an existing data dir), refused at bootstrap.
        let (empty, _) = try #require(runConfig(["--initial-cluster="]))
        #expect(empty.initialCluster.members.isEmpty)
        #expect(empty.verifyBootstrap().failureMessage == "couldn't find local name \"default\" in the initial cluster configuration")

        // Joining an existing cluster skips the advertise comparison, as etcd does.
        let (join, _) = try #require(runConfig([
            "--name", "a", "--initial-cluster-state", "existing", "--initial-advertise-peer-urls", "http://10.0.0.1:2380",
            "--initial-cluster", "a=http://10.0.0.7:2380,b=http://10.0.0.2:2380",
        ]))
        #expect(join.verifyBootstrap().failureMessage == nil)
    }

    /// The StatefulSet recipe: each pod advertises http://${HOSTNAME}:2380 while --initial-cluster names
    /// http://etcd-0.etcd:2380. The strings differ; after resolving both name the pod, as etcd accepts.
    @Test func advertisedPeerURLsMatchAfterResolvingHostNames() throws {
        let (c, _) = try #require(runConfig([
            "--name", "etcd-0", "--initial-advertise-peer-urls", "http://etcd-0:2380",
            "--initial-cluster", "etcd-0=http://etcd-0.etcd:2380,etcd-1=http://etcd-1.etcd:2380,etcd-2=http://etcd-2.etcd:2380",
        ]))
        let pods = ["etcd-0": "10.1.0.10", "etcd-0.etcd": "10.1.0.10", "etcd-1.etcd": "10.1.0.11"]
        #expect(c.verifyBootstrap().failureMessage != nil, "strings alone differ")
        #expect(c.verifyBootstrap(resolve: { pods[$0] }).failureMessage == nil)
        // A name that resolves elsewhere, or not at all, is still refused with etcd's text.
        #expect(c.verifyBootstrap(resolve: { $0 == "etcd-0" ? "10.1.0.99" : pods[$0] }).failureMessage?
            .hasPrefix("--initial-cluster has etcd-0=http://etcd-0.etcd:2380 but missing from --initial-advertise-peer-urls") == true)
        #expect(c.verifyBootstrap(resolve: { $0 == "etcd-0" ? nil : pods[$0] }).failureMessage != nil)
    }
}

extension Result where Failure == ConfigError {
    var failureMessage: String? { if case .failure(let e) = self { return e.message }; return nil }
}
