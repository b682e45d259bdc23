import Foundation
import Testing

/// `keel-bench` against real etcd with the flags of etcd's `benchmark` tool: every subcommand
/// runs a small load to the end, with no errors, and reports it as JSON.
@Suite(.serialized) struct KeelBenchSmokeTests {
    static let runs: [[String]] = [
        ["put", "--conns", "2", "--clients", "8", "--total", "400", "--key-size", "8", "--val-size", "256",
         "--key-space-size", "100", "--sequential-keys"],
        ["put", "--total", "50", "--rate", "500"],
        ["range", "--clients", "4", "--total", "200", "--key-space-size", "100", "--consistency", "s"],
        ["range", "foo", "fop", "--total", "100", "--consistency", "l"],
        ["txn-put", "--clients", "4", "--total", "100", "--txn-ops", "3", "--key-space-size", "100"],
        ["watch", "--clients", "4", "--put-total", "100", "--streams", "2", "--watch-per-stream", "5", "--key-space-size", "10"],
        ["watch-latency", "--put-total", "20", "--put-rate", "200", "--streams", "2", "--watchers-per-stream", "2"],
        ["lease-keepalive", "--conns", "2", "--clients", "4", "--total", "100"],
    ]

    @Test(.timeLimit(.minutes(2)))
    func everySubcommandAgainstEtcd() throws {
        let server = try ClientServer(.etcd, label: "bench")
        defer { server.stop() }
        let bench = try Self.benchBinary()
        for arguments in Self.runs {
            let result = try CommandRunner.run(bench, arguments + ["--endpoints", server.endpoint, "--json"], timeoutSeconds: 60)
            #expect(result.exitCode == 0, "\(arguments): \(result)")
            let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("\(arguments): no JSON line in \(result)")
                continue
            }
            #expect(json["op"] as? String == arguments[0])
            #expect((json["errors"] as? NSNumber)?.intValue == 0, "\(arguments): \(line)")
            #expect(((json["requests_per_sec"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(arguments): \(line)")
            #expect(((json["p99_ms"] as? NSNumber)?.doubleValue ?? 0) >= ((json["p50_ms"] as? NSNumber)?.doubleValue ?? 1))
            if arguments[0] == "watch" { #expect(json["events_complete"] as? Bool == true, "\(line)") }
        }
        // The put runs wrote what they said: 100 sequential keys plus the fixed key of the rate-limited run.
        let keys = try Etcdctl(endpoint: server.endpoint).succeed(["get", "", "--from-key", "--keys-only", "--limit", "1000"])
        #expect(keys.split(separator: "\n").count >= 101)
    }

    /// An unknown flag is a usage error (exit 64 from swift-argument-parser), not a run.
    @Test func usageErrors() throws {
        let result = try CommandRunner.run(try Self.benchBinary(), ["put", "--no-such-flag"])
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("Unknown option '--no-such-flag'"))
    }

    /// `keel-bench` beside the test binary (SwiftPM builds every product into one folder).
    static func benchBinary() throws -> String {
        let keel = try ServerBinaries.keel()
        let bench = URL(fileURLWithPath: keel).deletingLastPathComponent().appendingPathComponent("keel-bench").path
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            throw HarnessError.binaryMissing("\(bench); run `swift build` first")
        }
        return bench
    }
}
