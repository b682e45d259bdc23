import Foundation
import KeelClient
import Testing

/// KeelClient's lease calls and automatic keep-alive.
@Suite(.serialized) struct LeaseTests {
    /// Grant, attach a key, list, time-to-live, keep alive past the TTL, revoke.
    @Test(.timeLimit(.minutes(2)), arguments: LeaseTests.servers)
    func grantKeepAliveRevoke(_ kind: ServerKind) async throws {
        let server = try ClientServer(kind, label: "lease")
        let client = try server.client()
        defer { server.stop() }

        // 5 s: keep-alives every TTL/3 must survive the scheduling stalls of a CI machine running every
        // suite at once (a 2 s lease, renewed every 0.67 s, expired there once).
        let lease = try await client.grantLease(ttl: 5)
        #expect(lease.ttl == 5 && lease.id != 0)
        try await client.put("l", "v", lease: lease.id)
        #expect(try await client.leases().contains(lease.id))
        let ttl = try await client.leaseTimeToLive(id: lease.id, keys: true)
        #expect(ttl.grantedTTL == 5 && ttl.ttl <= 5 && ttl.ttl >= 0)
        #expect(ttl.keys == [Array("l".utf8)])
        #expect(try await client.keepAliveOnce(id: lease.id) == 5)

        let keepAlive = client.keepAlive(id: lease.id)
        // Longer than the TTL: without keep-alives the lease and its key would be gone.
        try await Task.sleep(nanoseconds: 7_000_000_000)
        #expect(keepAlive.responses >= 3, "keep-alives answered: \(keepAlive.responses)")
        #expect(try await client.get("l").kvs.map(\.valueString) == ["v"])
        #expect(try await client.leaseTimeToLive(id: lease.id).ttl > 0)

        try await client.revokeLease(id: lease.id)
        #expect(try await client.get("l").kvs.isEmpty)
        #expect(try await client.leaseTimeToLive(id: lease.id).ttl == -1)
        do {
            _ = try await client.keepAliveOnce(id: lease.id)
            Issue.record("keep-alive of a revoked lease succeeded on \(kind)")
        } catch let error as EtcdError {
            #expect(error == .leaseExpired(id: lease.id))
        }
        keepAlive.cancel()
        do {
            try await client.revokeLease(id: lease.id)
            Issue.record("revoking a revoked lease succeeded on \(kind)")
        } catch let error as EtcdError {
            #expect(error == .server(code: .notFound, message: "etcdserver: requested lease not found"))
        }
        try await client.close()
    }

    /// The client starts on the leader; the leader is stopped. The keep-alive stream breaks, fails
    /// over to another member and goes on, so the lease and its key outlive several TTLs across the
    /// leader change.
    @Test(.timeLimit(.minutes(2)), arguments: LeaseTests.servers)
    func keepAliveSurvivesALeaderChange(_ kind: ServerKind) async throws {
        // Keel before 16e0945 lost renewals a stopping leader answered (this test found it).
        try await keepAliveAcrossLeaderChange(kind, crash: false)
    }

    /// The same with the leader killed (-9): no shutdown, so no renewals lost in one.
    @Test(.timeLimit(.minutes(2)), arguments: LeaseTests.servers)
    func keepAliveSurvivesALeaderCrash(_ kind: ServerKind) async throws {
        try await keepAliveAcrossLeaderChange(kind, crash: true)
    }

    private func keepAliveAcrossLeaderChange(_ kind: ServerKind, crash: Bool) async throws {
        let cluster = try ClientCluster(kind, size: 3)
        defer { cluster.stopAll() }
        let leader = try await cluster.leader()
        let others = cluster.endpoints.indices.filter { $0 != leader }.map { cluster.endpoints[$0] }
        let client = try EtcdClient(endpoints: [cluster.endpoints[leader]] + others)
        let lease = try await client.grantLease(ttl: 3)
        try await client.put("held", "by lease", lease: lease.id)
        let keepAlive = client.keepAlive(id: lease.id)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let before = keepAlive.responses
        #expect(before >= 1)

        if crash { cluster.kill9(leader) } else { cluster.stop(leader) }
        let newLeader = try await cluster.leader(excluding: [leader])
        #expect(newLeader != leader)
        // Three TTLs after the leader went: only keep-alives through the new leader keep it.
        try await Task.sleep(nanoseconds: 9_000_000_000)
        #expect(keepAlive.responses > before + 2, "keep-alives: \(before) before, \(keepAlive.responses) after")
        #expect(keepAlive.error == nil)
        let reader = try EtcdClient(endpoints: others)
        #expect(try await reader.get("held").kvs.map(\.valueString) == ["by lease"])
        #expect(try await reader.leaseTimeToLive(id: lease.id).ttl > 0)
        keepAlive.cancel()
        try await reader.close()
        try await client.close()
    }

    static let servers: [ServerKind] = [.etcd, .keel]
}
