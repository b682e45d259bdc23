import Testing
@testable import KeelConfig

/// Bad input: the texts and exit codes real etcd 3.4.23 gives (checked by hand against the binary).
@Suite struct ValidationTests {
    @Test func unknownFlagExitsTwoWithGoText() throws {
        let f = try #require(failure(["--bogus"]))
        #expect(f.code == 2)
        #expect(f.message.hasPrefix("flag provided but not defined: -bogus\nUsage:"))
    }

    @Test func errorsComeInArgumentOrder() throws {
        let f = try #require(failure(["--heartbeat-interval", "abc", "--bogus"]))
        #expect(f.message.hasPrefix("invalid value \"abc\" for flag -heartbeat-interval: parse error"))
    }

    @Test func missingArgument() throws {
        let f = try #require(failure(["--name"]))
        #expect(f.code == 2 && f.message.hasPrefix("flag needs an argument: -name"))
    }

    @Test func badSyntax() throws {
        #expect(failure(["---x"])?.message.hasPrefix("bad flag syntax: ---x") == true)
        #expect(failure(["-=x"])?.message.hasPrefix("bad flag syntax: -=x") == true)
    }

    @Test(arguments: [
        (["--heartbeat-interval", "abc"], "invalid value \"abc\" for flag -heartbeat-interval: parse error"),
        (["--snapshot-count", "-1"], "invalid value \"-1\" for flag -snapshot-count: parse error"),
        (["--max-txn-ops=99999999999999999999"], "invalid value \"99999999999999999999\" for flag -max-txn-ops: value out of range"),
        (["--quota-backend-bytes", "8GB"], "invalid value \"8GB\" for flag -quota-backend-bytes: parse error"),
        (["--enable-v2=maybe"], "invalid boolean value \"maybe\" for -enable-v2: parse error"),
        (["--enable-v2="], "invalid boolean value \"\" for -enable-v2: parse error"),
        (["--initial-cluster-state", "foo"], "invalid value \"foo\" for flag -initial-cluster-state: invalid value"),
        (["--grpc-keepalive-timeout", "20"], "invalid value \"20\" for flag -grpc-keepalive-timeout: parse error"),
        (["--max-concurrent-streams", "99999999999"], "invalid value \"99999999999\" for flag -max-concurrent-streams: strconv.ParseUint: parsing \"99999999999\": value out of range"),
        (["--listen-client-urls", "ftp://x:1"], "invalid value \"ftp://x:1\" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: ftp://x:1"),
        (["--listen-peer-urls", "127.0.0.1:2379"], "invalid value \"127.0.0.1:2379\" for flag -listen-peer-urls: parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon"),
        (["--listen-peer-urls", "localhost:2379"], "invalid value \"localhost:2379\" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: localhost:2379"),
        (["--listen-peer-urls", "http://h"], "invalid value \"http://h\" for flag -listen-peer-urls: URL address does not have the form \"host:port\": http://h"),
        (["--listen-peer-urls", "http://h:1/p"], "invalid value \"http://h:1/p\" for flag -listen-peer-urls: URL must not contain a path: http://h:1/p"),
        (["--listen-peer-urls", "http://h:abc"], "invalid value \"http://h:abc\" for flag -listen-peer-urls: parse \"http://h:abc\": invalid port \":abc\" after host"),
        (["--listen-peer-urls", "http://127.0.0.1:1,"], "invalid value \"http://127.0.0.1:1,\" for flag -listen-peer-urls: URL scheme must be http, https, unix, or unixs: "),
    ])
    func flagPackageRejects(_ args: [String], _ expected: String) throws {
        let f = try #require(failure(args))
        #expect(f.code == 2)
        #expect(f.message.hasPrefix(expected + "\n"), "\(f.message)")
    }

    @Test(arguments: [
        (["--listen-client-urls", "http://example.com:1", "--advertise-client-urls", "http://example.com:1"],
         "expected IP in URL for binding (http://example.com:1)"),
        (["--listen-peer-urls", "http://:2380"], "expected IP in URL for binding (http://:2380)"),
        (["--heartbeat-interval", "300"], "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]"),
        (["--heartbeat-interval", "0"], "--heartbeat-interval must be >0 (set to 0ms)"),
        (["--election-timeout", "60000"], "--election-timeout[60000ms] is too long, and should be set less than 50000ms"),
        (["--auto-compaction-mode", "foo"], "unknown auto-compaction-mode \"foo\""),
        (["--logger", "foo"], "unknown logger option \"foo\""),
        (["--initial-advertise-peer-urls", "http://:2380"], "--initial-advertise-peer-urls \"http://:2380\" must be \"host:port\""),
    ])
    func etcdValidationRejects(_ args: [String], _ expected: String) throws {
        let f = try #require(failure(args))
        #expect(f.code == 1)
        #expect(f.message.hasPrefix("error verifying flags, " + expected), "\(f.message)")
    }

    @Test func listenClientWithoutAdvertise() throws {
        let f = try #require(failure(["--listen-client-urls", "http://127.0.0.1:1"]))
        #expect(f.code == 1)
        #expect(f.message.contains("--advertise-client-urls is required when --listen-client-urls is set explicitly"))
    }

    @Test func unknownLogLevelExitsTwoLikeEtcdsPanic() throws {
        let f = try #require(failure(["--log-level=verbose"]))
        #expect(f.code == 2 && f.message.hasPrefix("unknown level \"verbose\""))
    }

    @Test func badInitialClusterURL() throws {
        let f = try #require(failure(["--initial-cluster", "default=localhost:2380"]))
        #expect(f.code == 1 && f.message.contains("URL scheme must be http, https, unix, or unixs"))
    }

    @Test func badRetention() throws {
        let f = try #require(failure(["--auto-compaction-retention", "soon"]))
        #expect(f.code == 1 && f.message.contains("error parsing CompactionRetention"))
    }

    @Test func subcommandsAreRefused() throws {
        let f = try #require(failure(["grpc-proxy", "start"]))
        #expect(f.code == 2 && f.message.contains("grpc-proxy"))
    }

    @Test func bcryptCostOutOfRangeFallsBackLikeEtcd() throws {
        let (c, w) = try #require(runConfig(["--bcrypt-cost", "99"]))
        #expect(c.bcryptCost == 10)
        #expect(w.contains { $0.contains("bcrypt") })
    }
}
