import Foundation
import Testing

/// `--auto-compaction-mode periodic` through the real binary: history older than the retention is
/// compacted by the server itself (a proposal through the write path), visible to etcdctl as etcd's
/// "required revision has been compacted". Revision mode checks every 5 minutes, as etcd's does, so its
/// decisions are covered by MVCC's AutoCompactor unit tests instead.
@Suite struct AutoCompactionTests {
    @Test func periodicRetentionCompactsOldRevisions() throws {
        let scratch = try ScratchDirectory(label: "autocompact")
        let server = try ServerProcess.start(
            .keel, dataDir: scratch.child("data"),
            extraFlags: ["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1s"])
        defer { _ = server.stop() }
        let etcdctl = Etcdctl(server)
        _ = try etcdctl.succeed(["put", "k", "v1"])  // revision 2
        _ = try etcdctl.succeed(["put", "k", "v2"])  // revision 3
        #expect(try etcdctl.succeed(["get", "k", "--rev", "2", "--print-value-only"]).contains("v1"))

        // Poll an observable outcome with a deadline (the server's compactor runs on its own clock).
        let deadline = Date().addingTimeInterval(15)
        var last: CommandResult?
        while Date() < deadline {
            _ = try etcdctl.succeed(["put", "tick", "x"])  // keep revisions moving, as a live cluster does
            let result = try etcdctl.run(["get", "k", "--rev", "2"])
            last = result
            if result.stderr.contains("etcdserver: mvcc: required revision has been compacted") { break }
        }
        let outcome = try #require(last)
        #expect(outcome.exitCode != 0)
        #expect(outcome.stderr.contains("Error: etcdserver: mvcc: required revision has been compacted"), "\(outcome)")
        #expect(server.log.contains("Finished auto-compaction"))
        // The newest value is untouched.
        #expect(try etcdctl.succeed(["get", "k", "--print-value-only"]).contains("v2"))
    }
}
