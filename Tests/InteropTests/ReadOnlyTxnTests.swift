import Foundation
import Testing

/// etcd serves a Txn whose branches only hold Ranges without going through the log; so does Keel. The
/// log index (`endpoint status` raft_index) stays put for such a txn and moves for one that writes.
@Suite struct ReadOnlyTxnTests {
    static func raftIndex(_ etcdctl: Etcdctl) throws -> Int64 {
        let json = try etcdctl.succeed(["endpoint", "status", "-w", "json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        let status = try #require(list.first?["Status"] as? [String: Any])
        // etcdctl prints the Go struct's JSON names and omits zero values.
        return (status["raftIndex"] as? NSNumber)?.int64Value ?? 0
    }

    @Test func readOnlyTxnSkipsTheLogAndWritingTxnDoesNot() throws {
        let scratch = try ScratchDirectory(label: "rotxn")
        let server = try ServerProcess.start(.keel, dataDir: scratch.child("data"))
        defer { _ = server.stop() }
        let etcdctl = Etcdctl(server)
        _ = try etcdctl.succeed(["put", "a", "1"])
        let before = try Self.raftIndex(etcdctl)

        let readOnly = try etcdctl.succeed(["txn"], stdin: "value(\"a\") = \"1\"\n\nget a\n\nget b\n\n")
        #expect(readOnly.contains("SUCCESS"))
        #expect(readOnly.contains("a\n1"))
        #expect(try Self.raftIndex(etcdctl) == before)

        let writing = try etcdctl.succeed(["txn"], stdin: "value(\"a\") = \"1\"\n\nput b 2\n\n\n")
        #expect(writing.contains("SUCCESS"))
        #expect(try Self.raftIndex(etcdctl) == before + 1)
    }
}
