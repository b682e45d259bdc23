import Foundation
import Testing

/// `/health` turning unhealthy, on Keel and etcd 3.4 alike: a member without a leader, and a NOSPACE alarm.
/// (etcd 3.4 answers `{"health":"false"}`; Keel adds the reason, as later etcd versions do.)
@Suite struct HealthTests {
    private func health(_ server: ServerProcess) throws -> HTTPAnswer? {
        let result = try CommandRunner.run(
            ServerBinaries.curl, ["--silent", "--max-time", "5", "--write-out", "\n%{http_code}", server.clientURL + "/health"],
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 10)
        guard result.exitCode == 0, let cut = result.stdout.lastIndex(of: "\n"),
              let status = Int(result.stdout[result.stdout.index(after: cut)...]) else { return nil }
        return HTTPAnswer(status: status, body: String(result.stdout[..<cut]))
    }

    /// Polls /health (the server may not listen yet) until it answers; nil past the deadline.
    private func awaitHealth(_ server: ServerProcess, seconds: Double = 20) throws -> HTTPAnswer? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let answer = try health(server) { return answer }
            Thread.sleep(forTimeInterval: 0.1)  // polling a starting server inside a deadline
        }
        return nil
    }

    /// Keel only: etcd 3.4 does not serve its client port at all before it has published itself through a leader.
    @Test func noLeaderIs503() throws {
        let kind = ServerKind.keel
        // One member of a two-member cluster whose other member never starts: no quorum, no leader.
        let scratch = try ScratchDirectory(label: "health-noleader")
        let ports = try ServerPorts.pick()
        let absentPeer = try unclaimedLocalPort()
        let client = "http://127.0.0.1:\(ports.client)"
        let server = try ServerProcess(
            kind: kind, ports: ports, dataDir: scratch.child("data"),
            arguments: ["--name", "n1", "--data-dir", scratch.child("data"),
                        "--listen-client-urls", client, "--advertise-client-urls", client,
                        "--listen-peer-urls", "http://127.0.0.1:\(ports.peer)",
                        "--initial-advertise-peer-urls", "http://127.0.0.1:\(ports.peer)",
                        "--initial-cluster", "n1=http://127.0.0.1:\(ports.peer),n2=http://127.0.0.1:\(absentPeer)"],
            environment: CommandRunner.cleanEnvironment(), waitUntilReady: false)
        defer { server.kill9() }
        let answer = try #require(try awaitHealth(server), "\(kind) never answered /health\n\(server.log)")
        #expect(answer.status == 503, "\(kind): \(answer)")
        let body = try #require(JSONComparison.parse(answer.body) as? [String: Any], "\(answer)")
        #expect(body["health"] as? String == "false", "\(kind): \(answer)")
        #expect(body["reason"] as? String == "RAFT NO LEADER", "\(answer)")
    }

    @Test(arguments: [ServerKind.etcd, ServerKind.keel])
    func noSpaceAlarmIs503(_ kind: ServerKind) throws {
        let scratch = try ScratchDirectory(label: "health-nospace")
        let server = try ServerProcess.start(kind, dataDir: scratch.child("data"), extraFlags: ["--quota-backend-bytes", "300000"])
        #expect(try health(server)?.status == 200)
        // 64 KiB values until the quota refuses one.
        let value = Data(repeating: 0x61, count: 64 << 10).base64EncodedString()
        var refused: HTTPAnswer?
        for i in 0..<40 where refused == nil {
            let key = Data("big\(i)".utf8).base64EncodedString()
            let answer = try Curl.post(server.clientURL + "/v3/kv/put", #"{"key":"\#(key)","value":"\#(value)"}"#)
            if answer.status != 200 { refused = answer }
        }
        let failure = try #require(refused, "\(kind): writes never hit the quota")
        #expect(failure.status == 429 && failure.body.contains("etcdserver: mvcc: database space exceeded"), "\(failure)")
        let answer = try #require(try health(server))
        #expect(answer.status == 503, "\(kind): \(answer)")
        let body = try #require(JSONComparison.parse(answer.body) as? [String: Any], "\(answer)")
        #expect(body["health"] as? String == "false", "\(kind): \(answer)")
        if kind == .keel { #expect(body["reason"] as? String == "ALARM NOSPACE", "\(answer)") }
    }
}
