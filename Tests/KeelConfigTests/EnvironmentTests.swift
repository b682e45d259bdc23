import Testing
@testable import KeelConfig

/// ETCD_* variables, with etcd 3.4's pkg/flags rules.
@Suite struct EnvironmentTests {
    @Test func everyFlagHasItsVariable() throws {
        let (c, w) = try #require(runConfig([], env: [
            "ETCD_NAME": "infra0",
            "ETCD_DATA_DIR": "/data",
            "ETCD_LISTEN_CLIENT_URLS": "http://0.0.0.0:2379",
            "ETCD_ADVERTISE_CLIENT_URLS": "http://infra0.example:2379",
            "ETCD_LISTEN_PEER_URLS": "http://0.0.0.0:2380",
            "ETCD_INITIAL_ADVERTISE_PEER_URLS": "http://10.0.0.1:2380",
            "ETCD_INITIAL_CLUSTER": "infra0=http://10.0.0.1:2380,infra1=http://10.0.0.2:2380",
            "ETCD_INITIAL_CLUSTER_STATE": "existing",
            "ETCD_INITIAL_CLUSTER_TOKEN": "tok",
            "ETCD_HEARTBEAT_INTERVAL": "200",
            "ETCD_ELECTION_TIMEOUT": "2000",
            "ETCD_AUTO_COMPACTION_MODE": "revision",
            "ETCD_AUTO_COMPACTION_RETENTION": "1000",
            "ETCD_ENABLE_V2": "false",
            "PATH": "/usr/bin",
            "ETCDCTL_API": "3",
        ]))
        #expect(w.isEmpty)
        #expect(c.name == "infra0" && c.dataDir == "/data")
        #expect(urls(c.listenClientURLs) == ["http://0.0.0.0:2379"])
        #expect(urls(c.advertiseClientURLs) == ["http://infra0.example:2379"])
        #expect(c.initialCluster.members.map(\.name) == ["infra0", "infra1"])
        #expect(c.initialClusterState == .existing && c.initialClusterToken == "tok")
        #expect(c.heartbeatIntervalMs == 200 && c.electionTimeoutMs == 2000)
        #expect(c.autoCompaction == .revision(1000))
        #expect(c.environmentUsed.contains("ETCD_NAME=infra0"))
        #expect(c.environmentUsed.count == 14)
    }

    @Test func emptyVariableIsIgnoredLikeEtcd() throws {
        let (c, w) = try #require(runConfig([], env: ["ETCD_NAME": ""]))
        #expect(c.name == "default")
        // Not used, so etcd reports it as unrecognized (with its value).
        #expect(w.contains("unrecognized environment variable ETCD_NAME="))
    }

    @Test func flagAndVariableTogetherIsFatalIn34() throws {
        let f = try #require(failure(["--name", "y"], env: ["ETCD_NAME": "x"]))
        #expect(f.code == 1)
        #expect(f.message == "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)")
    }

    @Test func unknownEtcdVariableIsAWarning() throws {
        let (_, w) = try #require(runConfig([], env: ["ETCD_BOGUS": "1", "ETCD_UNSUPPORTED_ARCH": "arm"]))
        #expect(w.contains("unrecognized environment variable ETCD_BOGUS=1"))
        #expect(w.contains("unrecognized environment variable ETCD_UNSUPPORTED_ARCH=arm"))
    }

    @Test func badValueInVariableIsAnError() throws {
        let f = try #require(failure([], env: ["ETCD_HEARTBEAT_INTERVAL": "abc"]))
        #expect(f.code == 1)
        #expect(f.message == "error verifying flags, invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error. See 'keel --help'.")
        let g = try #require(failure([], env: ["ETCD_LISTEN_PEER_URLS": "localhost:2380"]))
        #expect(g.message.contains("for ETCD_LISTEN_PEER_URLS: URL scheme must be http, https, unix, or unixs: localhost:2380"))
        let h = try #require(failure([], env: ["ETCD_INITIAL_CLUSTER_STATE": "old"]))
        #expect(h.message.contains("invalid value \"old\" for ETCD_INITIAL_CLUSTER_STATE: invalid value"))
    }

    @Test func variableCountsAsSetForAdvertiseRule() throws {
        // listen-client-urls from the environment without an advertise URL: etcd's error.
        let f = try #require(failure([], env: ["ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:2379"]))
        #expect(f.code == 1 && f.message.contains("--advertise-client-urls is required when --listen-client-urls is set explicitly"))
    }

    @Test func refusalNamesTheVariable() throws {
        let f = try #require(failure([], env: ["ETCD_DISCOVERY_SRV": "example.com"]))
        #expect(f.code == 2 && f.message.contains("ETCD_DISCOVERY_SRV (--discovery-srv)"))
    }

    @Test func versionVariableIsConsumedWithoutEffect() throws {
        // etcd checks --version before reading the environment.
        let (_, w) = try #require(runConfig([], env: ["ETCD_VERSION": "true"]))
        #expect(!w.contains { $0.contains("ETCD_VERSION") })
    }
}
