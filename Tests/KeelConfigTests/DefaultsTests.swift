import Testing
@testable import KeelConfig

@Suite struct DefaultsTests {
    @Test func noArgumentsGiveEtcdDefaults() throws {
        let (c, warnings) = try #require(runConfig([]))
        #expect(c.name == "default")
        #expect(c.dataDir == "default.etcd")
        #expect(warnings == ["no data-dir provided, using default data-dir ./default.etcd"])
        #expect(c.walDir == nil)
        #expect(c.effectiveWALDir == "default.etcd/member/wal")
        #expect(urls(c.listenClientURLs) == ["http://localhost:2379"])
        #expect(urls(c.advertiseClientURLs) == ["http://localhost:2379"])
        #expect(urls(c.listenPeerURLs) == ["http://localhost:2380"])
        #expect(urls(c.initialAdvertisePeerURLs) == ["http://localhost:2380"])
        #expect(c.listenMetricsURLs.isEmpty)
        #expect(c.initialCluster.text == "default=http://localhost:2380")
        #expect(c.initialClusterState == .new)
        #expect(c.initialClusterToken == "etcd-cluster")
        #expect(c.heartbeatIntervalMs == 100)
        #expect(c.electionTimeoutMs == 1000)
        #expect(c.electionTicks == 10)
        #expect(c.snapshotCount == 100_000)
        #expect(c.quotaBackendBytes == 0)
        #expect(c.effectiveQuotaBackendBytes == Int64(2_147_483_648))
        #expect(c.maxRequestBytes == 1_572_864)
        #expect(c.maxTxnOps == 128)
        #expect(c.maxSnapshots == 5 && c.maxWALs == 5)
        #expect(c.maxConcurrentStreams == UInt32.max)
        #expect(c.autoCompaction == .disabled)
        #expect(c.logLevel == .info)
        #expect(c.logger == .capnslog)
        #expect(c.logOutputs == ["default"])
        #expect(c.strictReconfigCheck)
        #expect(!c.enableV2 && !c.preVote && !c.enablePprof)
        #expect(c.enableGRPCGateway)
        #expect(c.initialElectionTickAdvance)
        #expect(c.metrics == .basic)
        #expect(c.cors == ["*"])
        #expect(c.hostWhitelist == ["*"])
        #expect(c.authToken == "simple" && c.bcryptCost == 10 && c.authTokenTTLSeconds == 300)
        #expect(c.grpcKeepAliveMinTime == .seconds(5))
        #expect(c.grpcKeepAliveInterval == .seconds(7200))
        #expect(c.grpcKeepAliveTimeout == .seconds(20))
        #expect(c.environmentUsed.isEmpty)
    }

    @Test func nameAloneDerivesDataDirAndInitialCluster() throws {
        let (c, _) = try #require(runConfig(["--name", "n1"]))
        #expect(c.dataDir == "n1.etcd")
        #expect(c.initialCluster.text == "n1=http://localhost:2380")
        #expect(c.localMemberID != nil)
    }

    @Test func nameWithAdvertisedPeerURLsDerivesInitialClusterFromThem() throws {
        let (c, _) = try #require(runConfig([
            "--name", "n1", "--initial-advertise-peer-urls", "http://10.0.0.2:2380,http://10.0.0.1:2380",
        ]))
        // etcd sorts URL lists, and builds "${name}=${url}" for each.
        #expect(c.initialCluster.text == "n1=http://10.0.0.1:2380,n1=http://10.0.0.2:2380")
        #expect(c.initialCluster.members.count == 1)
    }

    @Test func defaultNameKeepsDefaultInitialClusterEvenWithOtherPeerURLs() throws {
        // Like etcd: the substitution only happens for a non-default name, so bootstrap fails.
        let (c, _) = try #require(runConfig(["--initial-advertise-peer-urls", "http://127.0.0.1:2390"]))
        #expect(c.initialCluster.text == "default=http://localhost:2380")
        guard case .failure(let e) = c.verifyBootstrap() else { Issue.record("expected mismatch"); return }
        #expect(e.message.hasPrefix("--initial-cluster has default=http://localhost:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2390"))
    }

    @Test func explicitValuesAreTyped() throws {
        let (c, w) = try #require(runConfig([
            "--data-dir", "/var/lib/etcd", "--wal-dir", "/wal", "--heartbeat-interval", "50",
            "--election-timeout", "500", "--snapshot-count", "10", "--quota-backend-bytes", "-1",
            "--max-request-bytes", "0x100", "--max-txn-ops", "1_000", "--initial-cluster-state", "existing",
            "--auto-compaction-retention", "30m", "--log-level", "warn", "--logger", "zap",
            "--log-outputs", "stderr,stdout,stderr", "--metrics", "extensive", "--listen-metrics-urls", "http://0.0.0.0:0",
            "--grpc-keepalive-interval", "1m30s", "--cors", "http://a.example:80", "--host-whitelist", "a,b,a",
        ]))
        // Parsed and typed even where Keel does not honour them yet; those warn, by name.
        let flagged = w.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(flagged == ["--grpc-keepalive-interval", "--cors", "--host-whitelist",
                            "--logger", "--log-outputs"], "\(w)")
        #expect(c.dataDir == "/var/lib/etcd" && c.walDir == "/wal" && c.effectiveWALDir == "/wal")
        #expect(c.heartbeatIntervalMs == 50 && c.electionTimeoutMs == 500)
        #expect(c.snapshotCount == 10)
        #expect(c.effectiveQuotaBackendBytes == nil)
        #expect(c.maxRequestBytes == 256 && c.maxTxnOps == 1000)
        #expect(c.initialClusterState == .existing)
        #expect(c.autoCompaction == .periodic(.seconds(1800)))
        #expect(c.logLevel == .warn && c.logger == .zap)
        #expect(c.logOutputs == ["stderr", "stdout"])
        #expect(c.metrics == .extensive)
        #expect(urls(c.listenMetricsURLs) == ["http://0.0.0.0:0"])
        #expect(c.listenMetricsURLs.first?.port == 0)
        #expect(c.grpcKeepAliveInterval == .seconds(90))
        #expect(c.cors == ["http://a.example:80"])
        #expect(c.hostWhitelist == ["a", "b"])
    }

    @Test func autoCompactionRetentionForms() {
        #expect(ConfigBuilder.parseRetention(mode: "periodic", "1") == .success(.periodic(.seconds(3600))))
        #expect(ConfigBuilder.parseRetention(mode: "periodic", "1h") == .success(.periodic(.seconds(3600))))
        #expect(ConfigBuilder.parseRetention(mode: "periodic", "30m") == .success(.periodic(.seconds(1800))))
        #expect(ConfigBuilder.parseRetention(mode: "periodic", "0") == .success(.disabled))
        #expect(ConfigBuilder.parseRetention(mode: "periodic", "") == .success(.disabled))
        #expect(ConfigBuilder.parseRetention(mode: "revision", "1000") == .success(.revision(1000)))
        #expect(throws: ConfigError.self) { try ConfigBuilder.parseRetention(mode: "revision", "1h").get() }
        #expect(throws: ConfigError.self) { try ConfigBuilder.parseRetention(mode: "periodic", "soon").get() }
        #expect(throws: ConfigError.self) { try ConfigBuilder.parseRetention(mode: "periodic", "-1h").get() }
    }

    @Test func debugForcesDebugLevel() throws {
        let (c, _) = try #require(runConfig(["--debug"]))
        #expect(c.logLevel == .debug)
    }
}
