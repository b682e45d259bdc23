import Testing
@testable import KeelConfig

/// Go `flag` package syntax, which etcd inherits.
@Suite struct SyntaxTests {
    @Test(arguments: [
        ["--name", "n1"], ["--name=n1"], ["-name", "n1"], ["-name=n1"],
    ])
    func allFourSpellingsWork(_ args: [String]) throws {
        let (c, _) = try #require(runConfig(args))
        #expect(c.name == "n1")
    }

    @Test func repeatedFlagLastWins() throws {
        let (c, _) = try #require(runConfig([
            "--name", "a", "--name=b", "--listen-peer-urls", "http://127.0.0.1:1", "--listen-peer-urls", "http://127.0.0.1:2",
        ]))
        #expect(c.name == "b")
        #expect(urls(c.listenPeerURLs) == ["http://127.0.0.1:2"])
    }

    @Test func valueMayLookLikeAFlag() throws {
        // Go takes the next argument as the value whatever it looks like.
        let (c, _) = try #require(runConfig(["--name", "--data-dir"]))
        #expect(c.name == "--data-dir")
    }

    @Test(arguments: ["--enable-v2", "--enable-v2=true", "-enable-v2=1", "--enable-v2=T", "--enable-v2=TRUE"])
    func boolTrueSpellings(_ arg: String) throws {
        let (c, _) = try #require(runConfig([arg]))
        #expect(c.enableV2)
    }

    @Test(arguments: ["--strict-reconfig-check=false", "--strict-reconfig-check=0", "-strict-reconfig-check=F"])
    func boolFalseSpellings(_ arg: String) throws {
        let (c, _) = try #require(runConfig([arg]))
        #expect(!c.strictReconfigCheck)
    }

    @Test func boolDoesNotConsumeNextArgument() throws {
        // "--enable-v2 false" leaves "false" as a positional argument: etcd exits 1.
        let f = try #require(failure(["--enable-v2", "false"]))
        #expect(f.code == 1)
        #expect(f.message == "error verifying flags, 'false' is not a valid flag. See 'keel --help'.")
    }

    @Test func doubleDashEndsFlags() throws {
        let (c, _) = try #require(runConfig(["--name", "x", "--"]))
        #expect(c.name == "x")
        let f = try #require(failure(["--", "--name", "x"]))
        #expect(f.code == 1 && f.message.contains("'--name' is not a valid flag"))
    }

    @Test func commaSeparatedURLListsAreSortedLikeEtcd() throws {
        let (c, _) = try #require(runConfig([
            "--listen-client-urls", "http://127.0.0.1:2379, http://0.0.0.0:0",
            "--advertise-client-urls", "http://b.example:2379,http://a.example:2379",
        ]))
        #expect(urls(c.listenClientURLs) == ["http://0.0.0.0:0", "http://127.0.0.1:2379"])
        #expect(c.listenClientURLs.map(\.port) == [0, 2379])
        #expect(urls(c.advertiseClientURLs) == ["http://a.example:2379", "http://b.example:2379"])
    }

    @Test func ipv6AndUnixListenURLs() throws {
        let (c, _) = try #require(runConfig([
            "--listen-client-urls", "http://[::1]:2379,unix://localhost:12345", "--advertise-client-urls", "http://[::1]:2379",
        ]))
        #expect(c.listenClientURLs.map(\.scheme) == [.http, .unix])
        #expect(c.listenClientURLs[0].host == "::1")
    }

    @Test func legacyFlagsAreIgnoredWithEtcdWarning() throws {
        let (_, w) = try #require(runConfig(["-v", "--peer-election-timeout=5"]))
        #expect(w.contains("flag \"-v\" is no longer supported - ignoring."))
        #expect(w.contains("flag \"-peer-election-timeout\" is no longer supported - ignoring."))
    }
}
