import Foundation
import KeelClient
import Testing

/// Cluster and Maintenance calls against real etcd and keel.
@Suite(.serialized) struct ClusterMaintenanceTests {
    @Test(.timeLimit(.minutes(1)), arguments: [ServerKind.etcd, .keel])
    func memberListAddPromoteRemove(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "cluster")
        let client = try server.client()
        defer { server.stop() }

        let list = try await client.memberList()
        #expect(list.members.count == 1)
        #expect(list.members.first?.name == "n1")
        #expect(list.members.first?.clientURLs == ["http://\(server.endpoint)"])
        #expect(list.members.first?.id == list.header.memberID)

        // A learner joins the member list without changing the quorum; promoting it needs it to
        // have caught up, which a member that never started has not: etcd's error for that.
        let peer = "http://127.0.0.1:\(try ServerPorts.pick().peer)"
        let added = try await client.memberAdd(peerURLs: [peer], isLearner: true)
        #expect(added.member?.peerURLs == [peer])
        #expect(added.member?.isLearner == true)
        #expect(added.members.count == 2)
        let learnerID = try #require(added.member?.id)
        do {
            try await client.memberPromote(id: learnerID)
            Issue.record("promoting a learner that never started succeeded on \(kind)")
        } catch let error as EtcdError {
            #expect(error == .server(code: .failedPrecondition,
                                     message: "etcdserver: can only promote a learner member which is in sync with leader"))
        }
        let left = try await client.memberRemove(id: learnerID)
        #expect(left.map(\.id) == [list.header.memberID])
        try await client.close()
    }

    @Test(.timeLimit(.minutes(1)), arguments: [ServerKind.etcd, .keel])
    func statusAlarmHashDefragment(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "maintenance")
        let client = try server.client()
        defer { server.stop() }
        try await client.put("h", "1")

        let status = try await client.status()
        #expect(status.leader == status.header.memberID)
        #expect(status.version.hasPrefix("3.4"))
        #expect(status.dbSize > 0)
        #expect(status.raftIndex >= status.raftAppliedIndex && status.raftAppliedIndex > 0)
        let direct = try await client.status(endpoint: Endpoint(server.endpoint))
        #expect(direct.header.memberID == status.header.memberID)

        #expect(try await client.alarms().isEmpty)
        #expect(try await client.disarmAlarm().isEmpty)

        let hash1 = try await client.hashKV()
        let hash2 = try await client.hashKV(revision: 2)
        #expect(hash1.hash == hash2.hash, "nothing written after revision 2")
        try await client.put("h", "2")
        #expect(try await client.hashKV().hash != hash1.hash)
        // Keel has no Maintenance.Defragment yet (LMDB reuses freed pages; etcd's call compacts bbolt).
        if kind == .etcd {
            try await client.defragment()
        } else {
            await #expect(throws: EtcdError.server(code: .unimplemented,
                                                   message: "unknown method Defragment for service etcdserverpb.Maintenance")) {
                try await client.defragment()
            }
        }
        #expect(try await client.get("h").kvs.map(\.valueString) == ["2"])
        try await client.close()
    }
}
