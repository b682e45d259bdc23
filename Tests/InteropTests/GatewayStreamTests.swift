import Foundation
import Testing

/// The gateway's streams: `/v3/watch` over chunked HTTP/1.1 side by side with etcd, the same over HTTP/2
/// (h2c), and the watcher going away with its client.
@Suite struct GatewayStreamTests {
    /// "watched" and its values, base64.
    static let key = "d2F0Y2hlZA=="
    static let create = #"{"create_request":{"key":"d2F0Y2hlZA==","prev_kv":true}}"#
    static let writes = [
        ("/v3/kv/put", #"{"key":"d2F0Y2hlZA==","value":"MQ=="}"#),
        ("/v3/kv/put", #"{"key":"d2F0Y2hlZA==","value":"Mg=="}"#),
        ("/v3/kv/deleterange", #"{"key":"d2F0Y2hlZA=="}"#),
    ]

    /// Opens a watch with curl, writes, and returns the response head and the result lines once all three
    /// events arrived; the watch client is killed before returning.
    private func watch(_ server: ServerProcess, http2: Bool = false) throws -> (head: String, lines: [String]) {
        let flags = http2 ? ["--http2-prior-knowledge"] : ["--http1.1"]
        let watcher = try WatchProcess.curl(flags + ["--include", "--data-binary", Self.create, server.clientURL + "/v3/watch"])
        defer { watcher.stop() }
        #expect(watcher.waitForStdout(containing: #""created":true"#), "no created line: \(watcher.transcript)")
        for (path, body) in Self.writes {
            let answer = try Curl.post(server.clientURL + path, body)
            #expect(answer.status == 200, "\(path): \(answer)")
        }
        let complete = watcher.waitFor { stdout, _ in stdout.components(separatedBy: #""events":"#).count == 4 }
        #expect(complete, "three events expected: \(watcher.transcript)")
        let text = watcher.stdout
        let split = text.range(of: "\r\n\r\n") ?? text.range(of: "\n\n")
        let head = split.map { String(text[..<$0.lowerBound]) } ?? ""
        let body = split.map { String(text[$0.upperBound...]) } ?? text
        return (head, body.split(separator: "\n").map(String.init))
    }

    private func watcherGauge(_ server: ServerProcess) throws -> Double? {
        let metrics = try Curl.get(server.clientURL + "/metrics").stdout
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("etcd_debugging_mvcc_watcher_total ") }
        return line.flatMap { Double($0.split(separator: " ").last.map(String.init) ?? "") }
    }

    @Test func chunkedWatchMatchesEtcdAndEndsWithItsClient() throws {
        let pair = try SideBySide(label: "gw-watch")
        let expected = try watch(pair.etcd)
        let actual = try watch(pair.subject)
        for (name, head) in [("etcd", expected.head), ("keel", actual.head)] {
            let lower = head.lowercased()
            #expect(lower.hasPrefix("http/1.1 200"), "\(name): \(head)")
            #expect(lower.contains("transfer-encoding: chunked"), "\(name) head: \(head)")
            #expect(lower.contains("content-type: application/json"), "\(name) head: \(head)")
        }
        // One {"result":…} document per line: created, put, put, delete (with prev_kv).
        let differences = outputDifferences(expected.lines.joined(separator: "\n"), actual.lines.joined(separator: "\n"),
                                            json: true)
        #expect(differences.isEmpty, "\(differences)\n etcd: \(expected.lines)\n keel: \(actual.lines)")
        #expect(actual.lines.allSatisfy { $0.hasPrefix(#"{"result":{"#) }, "\(actual.lines)")

        // The client went away: its watcher is gone too (the gauge counts synced watchers, as etcd's).
        let deadline = Date().addingTimeInterval(10)
        var gauge = try watcherGauge(pair.subject)
        while gauge != 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)  // polling the server inside a deadline
            gauge = try watcherGauge(pair.subject)
        }
        #expect(gauge == 0, "watchers left after the client closed: \(String(describing: gauge))")
    }

    @Test func watchOverHTTP2MatchesHTTP1() throws {
        let scratch = try ScratchDirectory(label: "gw-h2")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        let h2 = try watch(server, http2: true)
        #expect(h2.head.lowercased().hasPrefix("http/2 200"), "\(h2.head)")
        #expect(h2.lines.count == 4 && h2.lines.allSatisfy { $0.hasPrefix(#"{"result":{"#) }, "\(h2.lines)")
        let unary = try CommandRunner.run(ServerBinaries.curl, ["--silent", "--http2-prior-knowledge", "--data-binary",
                                                                #"{"key":"d2F0Y2hlZA=="}"#, server.clientURL + "/v3/kv/range"],
                                          environment: CommandRunner.cleanEnvironment())
        let range = try #require(JSONComparison.parse(unary.stdout) as? [String: Any], "\(unary)")
        #expect((range["header"] as? [String: Any])?["revision"] as? String == "4", "\(unary.stdout)")
        #expect(range["kvs"] == nil, "deleted key still there: \(unary.stdout)")
    }

    /// Election Observe, a server stream: the current leader's key at once, then each new leader.
    private func observe(_ server: ServerProcess) throws -> [String] {
        for (path, body) in [("/v3/lease/grant", #"{"TTL":60,"ID":77}"#), ("/v3/lease/grant", #"{"TTL":60,"ID":78}"#),
                             ("/v3/election/campaign", #"{"name":"ZWw=","value":"dg==","lease":"77"}"#)] {
            let answer = try Curl.post(server.clientURL + path, body)
            #expect(answer.status == 200, "\(path): \(answer)")
        }
        let observer = try WatchProcess.curl(["--http1.1", "--data-binary", #"{"name":"ZWw="}"#,
                                              server.clientURL + "/v3/election/observe"])
        defer { observer.stop() }
        #expect(observer.waitForStdout(containing: #""lease":"77""#), "no leader line: \(observer.transcript)")
        // The first leader resigns (its lease revoked); the queued campaign of lease 78 takes over.
        let second = try WatchProcess.curl(["--http1.1", "--data-binary", #"{"name":"ZWw=","value":"dzI=","lease":"78"}"#,
                                            server.clientURL + "/v3/election/campaign"])
        defer { second.stop() }
        // Its key must exist before the first leader goes, or revisions would depend on who came first.
        let deadline = Date().addingTimeInterval(10)
        var candidates = ""
        while !candidates.contains(#""count":"2""#) && Date() < deadline {
            candidates = try Curl.post(server.clientURL + "/v3/kv/range",
                                       #"{"key":"ZWwv","range_end":"ZWww","count_only":true}"#).body  // el/ .. el0
            if !candidates.contains(#""count":"2""#) { Thread.sleep(forTimeInterval: 0.05) }  // polling, within a deadline
        }
        #expect(candidates.contains(#""count":"2""#), "second candidate never queued: \(candidates)")
        let revoked = try Curl.post(server.clientURL + "/v3/lease/revoke", #"{"ID":77}"#)
        #expect(revoked.status == 200, "\(revoked)")
        #expect(observer.waitForStdout(containing: #""lease":"78""#), "no second leader: \(observer.transcript)")
        return observer.stdout.split(separator: "\n").map(String.init)
    }

    @Test func electionObserveMatchesEtcd() throws {
        let pair = try SideBySide(label: "gw-observe")
        let expected = try observe(pair.etcd)
        let actual = try observe(pair.subject)
        let differences = outputDifferences(expected.joined(separator: "\n"), actual.joined(separator: "\n"), json: true)
        #expect(differences.isEmpty, "\(differences)\n etcd: \(expected)\n keel: \(actual)")
        #expect(actual.count == 2, "\(actual)")
    }
}
