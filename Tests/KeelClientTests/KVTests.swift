import Foundation
import KeelClient
import Testing

/// KeelClient's KV and Txn calls against real etcd 3.4 and the real keel binary: the same calls,
/// the same answers (revisions, versions, error codes and texts).
@Suite(.serialized) struct KVTests {
    static let servers: [ServerKind] = [.etcd, .keel]

    @Test(.timeLimit(.minutes(1)), arguments: servers)
    func putGetDeleteCompact(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "kv")
        let client = try server.client()
        defer { server.stop() }

        let first = try await client.put("a", "1")
        #expect(first.header.revision == 2)
        #expect(first.header.memberID != 0 && first.header.clusterID != 0)
        try await client.put("a/b", "2")
        let replaced = try await client.put("a", "3", prevKV: true)
        #expect(replaced.prevKV?.valueString == "1")
        #expect(replaced.header.revision == 4)

        let one = try await client.get("a")
        #expect(one.kvs.map(\.valueString) == ["3"])
        #expect(one.kvs.first.map { ($0.createRevision, $0.modRevision, $0.version) } ?? (0, 0, 0) == (2, 4, 2))
        let prefix = try await client.get("a", options: .prefix(of: "a"))
        #expect(prefix.kvs.map(\.keyString) == ["a", "a/b"])
        #expect(prefix.count == 2)
        var counting = RangeOptions.prefix(of: "a")
        counting.countOnly = true
        #expect(try await client.get("a", options: counting).count == 2)
        var old = RangeOptions()
        old.revision = 2
        #expect(try await client.get("a", options: old).kvs.map(\.valueString) == ["1"])
        var serializable = RangeOptions()
        serializable.serializable = true
        #expect(try await client.get("a", options: serializable).kvs.map(\.valueString) == ["3"])

        let deleted = try await client.delete("a", rangeEnd: prefixRangeEnd(Array("a".utf8)), prevKV: true)
        #expect(deleted.deleted == 2)
        #expect(deleted.prevKVs.map(\.keyString) == ["a", "a/b"])
        #expect(try await client.get("a").kvs.isEmpty)

        try await client.compact(revision: 4, physical: true)
        do {
            _ = try await client.get("a", options: old)
            Issue.record("a read below the compacted revision succeeded on \(kind)")
        } catch let error as EtcdError {
            #expect(error == .server(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted"))
        }
        try await client.close()
    }

    @Test(.timeLimit(.minutes(1)), arguments: servers)
    func txnBuilder(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "txn")
        let client = try server.client()
        defer { server.stop() }

        try await client.put("k", "v1")
        let won = try await client.txn(Txn()
            .when(.value("k", .equal, "v1"), .version("k", .equal, 1))
            .then(.put("k", "v2", prevKV: true), .get("k"))
            .else(.delete("k")))
        #expect(won.succeeded)
        guard won.responses.count == 2, case .put(let put) = won.responses[0], case .get(let get) = won.responses[1] else {
            Issue.record("unexpected responses \(won.responses)")
            return
        }
        #expect(put.prevKV?.valueString == "v1")
        #expect(get.kvs.map(\.valueString) == ["v2"])

        let lost = try await client.txn(Txn()
            .when(.modRevision("k", .less, 2))
            .then(.put("k", "never"))
            .else(.get("k"), .txn(Txn().when(.createRevision("k", .greater, 0)).then(.delete("k")))))
        #expect(!lost.succeeded)
        guard lost.responses.count == 2, case .txn(let nested) = lost.responses[1],
              case .delete(let deleted) = nested.responses.first else {
            Issue.record("unexpected responses \(lost.responses)")
            return
        }
        #expect(nested.succeeded)
        #expect(deleted.deleted == 1)
        #expect(lost.header.revision == 4)

        // A duplicate key in one branch: etcd's InvalidArgument and text.
        do {
            _ = try await client.txn(Txn().then(.put("d", "1"), .put("d", "2")))
            Issue.record("duplicate keys in a txn accepted by \(kind)")
        } catch let error as EtcdError {
            #expect(error == .server(code: .invalidArgument, message: "etcdserver: duplicate key given in txn request"))
        }
        try await client.close()
    }

    /// The first endpoint refuses connections: calls go to the next one.
    @Test(.timeLimit(.minutes(1)), arguments: servers)
    func failsOverToTheNextEndpoint(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "failover")
        defer { server.stop() }
        let dead = try ServerPorts.pick().client  // nothing listens there
        let client = try EtcdClient(endpoints: ["127.0.0.1:\(dead)", server.endpoint])
        try await client.put("f", "1")
        #expect(try await client.get("f").kvs.map(\.valueString) == ["1"])
        #expect(client.currentEndpoint.description == server.endpoint)
        try await client.close()
    }

    /// A 3-member Keel cluster: the member the client talks to stops; reads and writes go on
    /// through the next endpoint, and what was written before is still there.
    @Test(.timeLimit(.minutes(2)))
    func failsOverWhenItsMemberStops() async throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let client = try EtcdClient(endpoints: cluster.members.map(\.endpoint))
        try await client.put("before", "1")
        #expect(client.currentEndpoint.description == cluster.members[0].endpoint)
        cluster.members[0].process?.stop()
        _ = try cluster.awaitLeader(excluding: [0])
        #expect(try await client.get("before").kvs.map(\.valueString) == ["1"])  // a read: retried on the next endpoint
        #expect(client.currentEndpoint.description != cluster.members[0].endpoint)
        try await client.put("after", "2")
        #expect(try await client.get("after").kvs.map(\.valueString) == ["2"])
        try await client.close()
    }
}
