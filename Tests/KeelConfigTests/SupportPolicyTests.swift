import Testing
@testable import KeelConfig

/// Flags for features Keel lacks are never silently ignored.
@Suite struct SupportPolicyTests {
    @Test func securityFlagsAtTheirDefaultsAreFine() throws {
        // Templated manifests often pass the defaults explicitly.
        #expect(runConfig(["--client-cert-auth=false", "--cert-file=", "--peer-auto-tls=false"]) != nil)
    }

    @Test(arguments: [
        "--discovery=https://discovery.etcd.io/x", "--discovery-srv=example.com", "--discovery-srv-name=x",
        "--discovery-proxy=http://p:1", "--discovery-fallback=exit", "--proxy=on", "--proxy-dial-timeout=5",
        "--config-file=/etc/etcd.yml",
    ])
    func unsupportedFeaturesRefuse(_ arg: String) throws {
        let f = try #require(failure([arg]))
        #expect(f.code == 2)
        #expect(f.message.hasPrefix("keel: refusing to start: " + arg.prefix { $0 != "=" }), "\(f.message)")
    }

    @Test func unixsURLsRefuse() throws {
        let f = try #require(failure(["--listen-client-urls", "unixs://localhost:12379", "--advertise-client-urls", "https://127.0.0.1:2379"]))
        #expect(f.code == 2 && f.message.contains("--listen-client-urls has unixs://localhost:12379") && f.message.contains("unixs://"))
        let g = try #require(failure(["--name", "a", "--initial-cluster", "a=http://localhost:2380,b=unixs://localhost:12380"]))
        #expect(g.code == 2 && g.message.contains("--initial-cluster has b=unixs://localhost:12380"))
    }

    /// Both token providers reach the server as given; the keys are read (and a bad option refused) at start.
    @Test func authTokenIsPassedOn() throws {
        let (simple, _) = try #require(runConfig(["--auth-token", "simple"]))
        #expect(simple.authToken == "simple")
        let (jwt, w) = try #require(runConfig(["--data-dir", "/d", "--auth-token", "jwt,pub-key=a,priv-key=b,sign-method=RS256"]))
        #expect(jwt.authToken == "jwt,pub-key=a,priv-key=b,sign-method=RS256" && w.isEmpty, "\(w)")
    }

    @Test(arguments: [
        "--backend-batch-interval=10ms", "--backend-batch-limit=5", "--grpc-keepalive-min-time=1s",
        "--experimental-initial-corrupt-check", "--experimental-compaction-batch-limit=5",
        "--enable-pprof", "--enable-v2", "--unsafe-no-fsync",
        "--log-package-levels=etcdserver=DEBUG",
        "--logger=zap", "--cors=http://a.example:80", "--host-whitelist=a.example",
    ])
    func tuningFlagsWarnNamingTheFlag(_ arg: String) throws {
        let (_, w) = try #require(runConfig([arg]))
        let name = String(arg.prefix { $0 != "=" })
        #expect(w.contains { $0.hasPrefix(name + " is accepted but") }, "\(w)")
    }

    @Test(arguments: ["--pre-vote", "--initial-election-tick-advance=false", "--max-concurrent-streams=100",
                      "--metrics=extensive", "--enable-grpc-gateway=false", "--bcrypt-cost=12", "--auth-token-ttl=60"])
    func honouredFlagsDoNotWarn(_ arg: String) throws {
        let (_, w) = try #require(runConfig(["--data-dir", "/d", arg]))
        #expect(w.isEmpty, "\(w)")
    }

    @Test func tuningValueIsStillParsed() throws {
        let (c, _) = try #require(runConfig(["--max-concurrent-streams=100", "--pre-vote"]))
        #expect(c.maxConcurrentStreams == 100 && c.preVote)
    }

    @Test func everyEtcdFlagIsKnown() {
        // The `etcd` command's flags in 3.4.23 (etcdmain/config.go), plus --version.
        let etcdFlags = """
            config-file data-dir wal-dir listen-peer-urls listen-client-urls listen-metrics-urls max-snapshots max-wals
            name snapshot-count heartbeat-interval election-timeout initial-election-tick-advance quota-backend-bytes
            backend-batch-interval backend-batch-limit max-txn-ops max-request-bytes grpc-keepalive-min-time
            grpc-keepalive-interval grpc-keepalive-timeout max-concurrent-streams initial-advertise-peer-urls
            advertise-client-urls discovery discovery-fallback discovery-proxy discovery-srv discovery-srv-name
            initial-cluster initial-cluster-token initial-cluster-state strict-reconfig-check enable-v2 pre-vote proxy
            proxy-failure-wait proxy-refresh-interval proxy-dial-timeout proxy-write-timeout proxy-read-timeout
            cert-file key-file client-cert-auth client-crl-file client-cert-allowed-hostname trusted-ca-file auto-tls
            peer-cert-file peer-key-file peer-client-cert-auth peer-trusted-ca-file peer-auto-tls peer-crl-file
            peer-cert-allowed-cn peer-cert-allowed-hostname cipher-suites experimental-peer-skip-client-san-verification
            cors host-whitelist logger log-output log-outputs debug log-level log-package-levels version
            auto-compaction-retention auto-compaction-mode enable-pprof metrics auth-token bcrypt-cost auth-token-ttl
            enable-grpc-gateway experimental-initial-corrupt-check experimental-corrupt-check-time
            experimental-enable-v2v3 experimental-backend-bbolt-freelist-type experimental-enable-lease-checkpoint
            experimental-enable-lease-checkpoint-persist experimental-compaction-batch-limit
            experimental-watch-progress-notify-interval experimental-warning-apply-duration unsafe-no-fsync
            force-new-cluster cluster-active-size cluster-remove-delay cluster-sync-interval config force
            max-result-buffer max-retry-attempts peer-heartbeat-interval peer-election-timeout retry-interval snapshot v vv
            """.split(whereSeparator: \.isWhitespace).map(String.init)
        for name in etcdFlags { #expect(FlagTable.byName[name] != nil, "missing --\(name)") }
        #expect(FlagTable.all.count == etcdFlags.count + 2)  // + test.coverprofile, test.outputdir
    }

    @Test func everyDefaultParses() {
        for spec in FlagTable.all { _ = FlagSet.defaultValue(spec) }  // preconditions inside
    }
}
