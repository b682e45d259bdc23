import Foundation
import Testing

/// The HTTP/1.1 endpoints on the client port and etcdctl's cluster-level commands.
@Suite struct HTTPEndpointTests {
    @Test func versionAndHealthMatchEtcd() throws {
        let pair = try SideBySide(label: "http")
        let etcdVersion = try Curl.get("\(pair.etcd.clientURL)/version")
        let subjectVersion = try Curl.get("\(pair.subject.clientURL)/version")
        #expect(subjectVersion.exitCode == 0, "curl /version: \(subjectVersion)")
        let expected = try #require(JSONComparison.parse(etcdVersion.stdout) as? [String: Any])
        let actual = try #require(JSONComparison.parse(subjectVersion.stdout) as? [String: Any], "\(subjectVersion.stdout)")
        // Keys and types must match; the version strings are each server's own.
        #expect(Set(actual.keys) == Set(expected.keys), "/version keys: \(actual.keys) vs etcd \(expected.keys)")
        for (key, value) in actual {
            #expect((value as? String)?.isEmpty == false, "/version \(key) is not a non-empty string: \(value)")
        }

        let etcdHealth = try Curl.get("\(pair.etcd.clientURL)/health")
        let subjectHealth = try Curl.get("\(pair.subject.clientURL)/health")
        #expect(subjectHealth.exitCode == 0, "curl /health: \(subjectHealth)")
        #expect(outputDifferences(etcdHealth.stdout, subjectHealth.stdout, json: true).isEmpty,
                "/health: etcd \(etcdHealth.stdout) vs subject \(subjectHealth.stdout)")
        let health = try #require(JSONComparison.parse(subjectHealth.stdout) as? [String: Any], "\(subjectHealth.stdout)")
        #expect(health["health"] as? String == "true")
    }

    @Test func endpointHealthStatusAndMemberList() throws {
        let scratch = try ScratchDirectory(label: "endpoint")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        let etcdctl = Etcdctl(server)
        try etcdctl.succeed(["put", "k", "v"])

        let health = try etcdctl.run(["endpoint", "health"])
        #expect(health.exitCode == 0, "endpoint health: \(health)\n\(server.log)")
        // etcdctl 3.4 prints the health line on stderr.
        #expect((health.stdout + health.stderr).contains("\(server.endpoint) is healthy"), "\(health)")

        let status = try etcdctl.run(["endpoint", "status"], json: true)
        #expect(status.exitCode == 0, "endpoint status: \(status)\n\(server.log)")
        let entries = try #require(JSONComparison.parse(status.stdout) as? [[String: Any]], "\(status.stdout)")
        let entry = try #require(entries.first?["Status"] as? [String: Any], "\(status.stdout)")
        let header = try #require(entry["header"] as? [String: Any], "\(status.stdout)")
        #expect((header["revision"] as? NSNumber)?.intValue == 2, "status revision: \(status.stdout)")
        #expect((entry["version"] as? String)?.isEmpty == false, "status version: \(status.stdout)")
        #expect(entry["leader"] as? NSNumber == header["member_id"] as? NSNumber,
                "a single member leads itself: \(status.stdout)")

        let members = try etcdctl.run(["member", "list"], json: true)
        #expect(members.exitCode == 0, "member list: \(members)")
        let list = try #require(JSONComparison.parse(members.stdout) as? [String: Any], "\(members.stdout)")
        let only = try #require((list["members"] as? [[String: Any]])?.first, "\(members.stdout)")
        #expect(only["name"] as? String == "n1")
        #expect(only["peerURLs"] as? [String] == ["http://127.0.0.1:\(server.ports.peer)"])
        #expect(only["clientURLs"] as? [String] == [server.clientURL])
    }
}
