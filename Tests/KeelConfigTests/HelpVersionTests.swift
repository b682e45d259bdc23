import Testing
@testable import KeelConfig

@Suite struct HelpVersionTests {
    @Test func versionFlag() {
        #expect(ConfigParser.parse(arguments: ["--version"], environment: [:]) == .printVersion)
        #expect(ConfigParser.parse(arguments: ["-version=true"], environment: [:]) == .printVersion)
        #expect(KeelVersion.versionText.hasPrefix("etcd Version: 3.4.23\n"))
    }

    @Test func versionStillValidatesFlagsFirst() {
        guard case .failure(_, let code) = ConfigParser.parse(arguments: ["--version", "--bogus"], environment: [:]) else {
            Issue.record("expected failure"); return
        }
        #expect(code == 2)
    }

    @Test(arguments: [["-h"], ["--help"], ["-help"], ["--name", "x", "--help"]])
    func help(_ args: [String]) {
        guard case .printHelp(let text) = ConfigParser.parse(arguments: args, environment: [:]) else {
            Issue.record("expected help"); return
        }
        #expect(text.contains("--initial-cluster 'default=http://localhost:2380'"))
        #expect(text.contains("--data-dir '${name}.etcd'"))
        #expect(text.contains("--cert-file ''\n    Path to the client server TLS cert file.\n  --"))
        #expect(text.contains("ETCD_INITIAL_CLUSTER"))
    }

    @Test func helpAfterAnUnknownFlagIsTheUnknownFlagError() {
        guard case .failure(let m, 2) = ConfigParser.parse(arguments: ["--bogus", "--help"], environment: [:]) else {
            Issue.record("expected failure"); return
        }
        #expect(m.hasPrefix("flag provided but not defined: -bogus"))
    }
}
