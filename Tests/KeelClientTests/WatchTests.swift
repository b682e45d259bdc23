import Foundation
import KeelClient
import Testing

/// KeelClient's Watch stream against real etcd and keel, including resumption after a restart.
@Suite(.serialized) struct WatchTests {
    @Test(.timeLimit(.minutes(1)), arguments: [ServerKind.etcd, .keel])
    func liveAndHistoricalEvents(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "watch")
        let client = try server.client()
        defer { server.stop() }

        try await client.put("w/0", "old")  // rev 2
        var options = WatchOptions.prefix(of: "w/")
        options.startRevision = 2
        options.prevKV = true
        var iterator = client.watch("w/", options: options).makeAsyncIterator()
        let history = try await nextEvents(&iterator, count: 1)
        #expect(history.map(\.summary) == ["PUT w/0=old@2"])
        try await client.put("w/1", "a")
        try await client.put("x", "not watched")
        try await client.delete("w/0")
        let live = try await nextEvents(&iterator, count: 2)
        #expect(live.map(\.summary) == ["PUT w/1=a@3", "DELETE w/0@5"])
        #expect(live.last?.prevKV?.valueString == "old")
        try await client.close()
    }

    /// A watch from a compacted revision ends with the compaction error and the compact revision.
    @Test(.timeLimit(.minutes(1)), arguments: [ServerKind.etcd, .keel])
    func compactedStartRevisionEndsTheStream(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "watch-compacted")
        let client = try server.client()
        defer { server.stop() }
        for i in 0..<3 { try await client.put("c", "\(i)") }  // revs 2...4
        try await client.compact(revision: 4, physical: true)
        var options = WatchOptions()
        options.startRevision = 2
        var iterator = client.watch("c", options: options).makeAsyncIterator()
        do {
            _ = try await iterator.next()
            Issue.record("a watch from a compacted revision delivered on \(kind)")
        } catch let error as EtcdError {
            #expect(error == .compacted(compactRevision: 4))
        }
        try await client.close()
    }

    /// The member restarts under a live watch: the watch reconnects by itself and goes on from the
    /// revision after the last event it delivered, with no event lost or repeated.
    @Test(.timeLimit(.minutes(1)), arguments: [ServerKind.etcd, .keel])
    func watchSurvivesAMemberRestart(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "watch-restart")
        let client = try server.client()
        defer { server.stop() }
        var options = WatchOptions.prefix(of: "r")
        options.startRevision = 2  // a fresh server is at revision 1: no race with the first put
        var iterator = client.watch("r", options: options).makeAsyncIterator()
        try await client.put("r/probe", "p")
        #expect(try await nextEvents(&iterator, count: 1).map(\.summary) == ["PUT r/probe=p@2"])
        try await client.put("r/1", "before")
        #expect(try await nextEvents(&iterator, count: 1).map(\.summary) == ["PUT r/1=before@3"])

        try server.restart()
        try await client.put("r/2", "after")  // the client reconnects for this call too
        try await client.put("r/3", "after")
        #expect(try await nextEvents(&iterator, count: 2).map(\.summary) == ["PUT r/2=after@4", "PUT r/3=after@5"])
        try await client.close()
    }

    /// A 3-member Keel cluster; the watch's only endpoint is member 0, which is stopped while writes
    /// go on through member 1, then restarted: the watch delivers what was written while it was
    /// away, from exactly the revision after its last event.
    @Test(.timeLimit(.minutes(2)))
    func watchResumesFromTheLastRevisionAfterItsMemberWasDown() async throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let watcher = try EtcdClient(endpoints: [cluster.members[0].endpoint])
        let writer = try EtcdClient(endpoints: [cluster.members[1].endpoint])
        var options = WatchOptions.prefix(of: "z")
        options.startRevision = try await writer.get("z").header.revision + 1  // no race with the put below
        var iterator = watcher.watch("z", options: options).makeAsyncIterator()
        let first = try await writer.put("z/1", "up")
        var seen = try await nextEvents(&iterator, count: 1)
        #expect(seen.map(\.kv.modRevision) == [first.header.revision])

        cluster.members[0].process?.stop()
        // If member 0 led, writes wait for the election among the two left (else they time out).
        _ = try cluster.awaitLeader(excluding: [0])
        var whileDown: [Int64] = []
        for i in 0..<5 { whileDown.append(try await writer.put("z/down\(i)", "\(i)").header.revision) }
        try cluster.restart(0)
        let after = try await writer.put("z/after", "up").header.revision
        seen = try await nextEvents(&iterator, count: 6)
        #expect(seen.map(\.kv.modRevision) == whileDown + [after])
        #expect(seen.map(\.kv.keyString) == (0..<5).map { "z/down\($0)" } + ["z/after"])
        try await watcher.close()
        try await writer.close()
    }
}
