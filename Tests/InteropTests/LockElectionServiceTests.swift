import CProtobufC
import EtcdProto
@testable import EtcdServer
import Foundation
import NIOCore
import NIOPosix
import RPC
import Testing

/// etcd's v3lockpb.Lock and v3electionpb.Election services over gRPC, wire-identical: the answers and
/// errors etcd 3.4 gives (run with KEEL_INTEROP_SUBJECT=etcd to check the expectations on etcd). A
/// waiter is shown to have waited by revisions, not by time: its answer's revision is at or after the
/// write that released it.
@Suite struct LockElectionServiceTests {
    private struct Client {
        let connection: GRPCClientConnection

        func call(_ path: String, _ build: (inout ProtoWriter) -> Void) async throws -> ByteBuffer {
            var w = ProtoWriter()
            build(&w)
            return try await connection.unary(path, w.bytes)
        }

        func grant(ttl: Int64) async throws -> Int64 {
            let reply = try await call("/etcdserverpb.Lease/LeaseGrant") { $0.varint(1, UInt64(ttl)) }
            return decode(reply, etcdserverpb__lease_grant_response__init, Etcdserverpb__LeaseGrantResponse.self) { $0.pointee.id }
        }
    }

    private static func decode<T, R>(_ buffer: ByteBuffer, _ initialize: (UnsafeMutablePointer<T>) -> Void, _ type: T.Type,
                                     _ body: (UnsafePointer<T>) -> R) -> R {
        let d = ProtoCodec.descriptor(of: initialize)
        return buffer.withUnsafeReadableBytes { raw in
            let m = protobuf_c_message_unpack(d, nil, raw.count, raw.baseAddress?.assumingMemoryBound(to: UInt8.self))!
            defer { protobuf_c_message_free_unpacked(m, nil) }
            return body(UnsafeRawPointer(m).assumingMemoryBound(to: T.self))
        }
    }
    private func decode<T, R>(_ buffer: ByteBuffer, _ initialize: (UnsafeMutablePointer<T>) -> Void, _ type: T.Type,
                              _ body: (UnsafePointer<T>) -> R) -> R { Self.decode(buffer, initialize, type, body) }

    private static func revision(_ h: UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?) -> Int64 { h?.pointee.revision ?? -1 }
    private static func bytes(_ b: ProtobufCBinaryData) -> String {
        b.len == 0 ? "" : String(decoding: UnsafeBufferPointer(start: b.data, count: b.len), as: UTF8.self)
    }

    private static func status(_ body: () async throws -> Void) async -> GRPCStatus? {
        do { try await body() } catch let s as GRPCStatus { return s } catch { return GRPCStatus(.unknown, "\(error)") }
        return nil
    }

    private static func start() async throws -> (ServerProcess, ScratchDirectory, Client) {
        let scratch = try ScratchDirectory(label: "lock-election")
        let server = try ServerProcess.start(.subject, dataDir: scratch.child("data"))
        let connection = try await GRPCClientConnection.connect(host: "127.0.0.1", port: Int(server.ports.client),
                                                                group: MultiThreadedEventLoopGroup.singleton)
        return (server, scratch, Client(connection: connection))
    }

    @Test func lockQueuesCallersUntilTheHolderUnlocks() async throws {
        let (server, scratch, client) = try await Self.start()
        defer { server.kill9(); _ = scratch }
        let first = try await client.grant(ttl: 30)
        let second = try await client.grant(ttl: 30)
        let held = try await client.call("/v3lockpb.Lock/Lock") { $0.bytes(1, Array("l".utf8)); $0.varint(2, UInt64(first)) }
        let key = decode(held, v3lockpb__lock_response__init, V3lockpb__LockResponse.self) { Self.bytes($0.pointee.key) }
        #expect(key == "l/" + String(UInt64(first), radix: 16))
        // The second caller waits for the first key to go.
        async let waited = client.call("/v3lockpb.Lock/Lock") { $0.bytes(1, Array("l".utf8)); $0.varint(2, UInt64(second)) }
        // Unlock once the second caller's key exists (it then waits behind ours).
        let secondKey = "l/" + String(UInt64(second), radix: 16)
        let etcdctl = Etcdctl(server)
        let deadline = Date().addingTimeInterval(10)
        while try etcdctl.succeed(["get", secondKey, "--keys-only"]).isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))  // polling the server for the waiter's key
        }
        let unlocked = try await client.call("/v3lockpb.Lock/Unlock") { $0.bytes(1, Array(key.utf8)) }
        let unlockRevision = decode(unlocked, v3lockpb__unlock_response__init, V3lockpb__UnlockResponse.self) { Self.revision($0.pointee.header) }
        let got = try await waited
        let (gotKey, gotRevision) = decode(got, v3lockpb__lock_response__init, V3lockpb__LockResponse.self) {
            (Self.bytes($0.pointee.key), Self.revision($0.pointee.header))
        }
        #expect(gotKey == secondKey)
        #expect(gotRevision >= unlockRevision, "the second Lock answered at \(gotRevision), before the unlock at \(unlockRevision)")
        // A lease that does not exist.
        let missing = await Self.status { _ = try await client.call("/v3lockpb.Lock/Lock") { $0.bytes(1, Array("l".utf8)); $0.varint(2, 0x1234) } }
        // etcd's v3lock calls through a client, so the error comes back as a plain error: UNKNOWN, same text.
        #expect(missing == GRPCStatus(.unknown, "etcdserver: requested lease not found"))
        await client.connection.close()
    }

    @Test func electionCampaignProclaimObserveResign() async throws {
        let (server, scratch, client) = try await Self.start()
        defer { server.kill9(); _ = scratch }
        let noLeader = await Self.status { _ = try await client.call("/v3electionpb.Election/Leader") { $0.bytes(1, Array("e".utf8)) } }
        #expect(noLeader == GRPCStatus(.unknown, "election: no leader"))
        let missingKey = await Self.status { _ = try await client.call("/v3electionpb.Election/Proclaim") { $0.bytes(2, Array("x".utf8)) } }
        #expect(missingKey == GRPCStatus(.unknown, "\"leader\" field must be provided"))

        let first = try await client.grant(ttl: 30)
        let second = try await client.grant(ttl: 30)
        let won = try await client.call("/v3electionpb.Election/Campaign") {
            $0.bytes(1, Array("e".utf8)); $0.varint(2, UInt64(first)); $0.bytes(3, Array("a".utf8))
        }
        let leader = decode(won, v3electionpb__campaign_response__init, V3electionpb__CampaignResponse.self) { m in
            let l = m.pointee.leader!.pointee
            return (name: Self.bytes(l.name), key: Self.bytes(l.key), rev: l.rev, lease: l.lease)
        }
        #expect(leader.name == "e" && leader.key == "e/" + String(UInt64(first), radix: 16) && leader.lease == first && leader.rev > 0)
        func leaderKey(_ w: inout ProtoWriter, rev: Int64) {
            w.message(1) { l in
                l.bytes(1, Array(leader.name.utf8)); l.bytes(2, Array(leader.key.utf8))
                l.varint(3, UInt64(rev)); l.varint(4, UInt64(leader.lease))
            }
        }
        // Observe: the current leader first, then each change.
        let observed = ObservedValues()
        let observe = try await client.connection.makeCall("/v3electionpb.Election/Observe") { message in
            observed.add(Self.decode(message, v3electionpb__leader_response__init, V3electionpb__LeaderResponse.self) { Self.bytes($0.pointee.kv.pointee.value) })
        }.get()
        var request = ProtoWriter()
        request.bytes(1, Array("e".utf8))
        observe.send(ByteBuffer(bytes: request.bytes))
        observe.closeSend()
        #expect(observed.wait(for: ["a"]))

        async let campaigning = client.call("/v3electionpb.Election/Campaign") {
            $0.bytes(1, Array("e".utf8)); $0.varint(2, UInt64(second)); $0.bytes(3, Array("b".utf8))
        }
        // The second candidate's key exists before the first resigns (it then waits behind it).
        let etcdctl = Etcdctl(server)
        let deadline = Date().addingTimeInterval(10)
        while try etcdctl.succeed(["get", "e/" + String(UInt64(second), radix: 16), "--keys-only"]).isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))  // polling the server for the candidate's key
        }
        _ = try await client.call("/v3electionpb.Election/Proclaim") { leaderKey(&$0, rev: leader.rev); $0.bytes(2, Array("a2".utf8)) }
        let current = try await client.call("/v3electionpb.Election/Leader") { $0.bytes(1, Array("e".utf8)) }
        #expect(decode(current, v3electionpb__leader_response__init, V3electionpb__LeaderResponse.self) { Self.bytes($0.pointee.kv.pointee.value) } == "a2")
        #expect(observed.wait(for: ["a", "a2"]))
        let stale = await Self.status {
            _ = try await client.call("/v3electionpb.Election/Proclaim") { leaderKey(&$0, rev: leader.rev + 1000); $0.bytes(2, Array("zz".utf8)) }
        }
        #expect(stale == GRPCStatus(.unknown, "election: not leader"))
        // Resign hands leadership to the waiting candidate.
        let resigned = try await client.call("/v3electionpb.Election/Resign") { leaderKey(&$0, rev: leader.rev) }
        let resignRevision = decode(resigned, v3electionpb__resign_response__init, V3electionpb__ResignResponse.self) { Self.revision($0.pointee.header) }
        let next = try await campaigning
        let (nextKey, nextRevision) = decode(next, v3electionpb__campaign_response__init, V3electionpb__CampaignResponse.self) {
            (Self.bytes($0.pointee.leader!.pointee.key), Self.revision($0.pointee.header))
        }
        #expect(nextKey == "e/" + String(UInt64(second), radix: 16))
        #expect(nextRevision < resignRevision, "a campaign's header is its own txn's, as etcd's")
        #expect(observed.wait(for: ["a", "a2", "b"]))
        observe.cancel()
        await client.connection.close()
    }
}

/// Values an Observe stream delivered, in order.
final class ObservedValues: @unchecked Sendable {  // guarded by `condition`
    private let condition = NSCondition()
    private var values: [String] = []

    func add(_ v: String) {
        condition.lock()
        values.append(v)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits (10 s at most) until exactly `expected` was seen.
    func wait(for expected: [String]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(10)
        while values.count < expected.count && condition.wait(until: deadline) {}
        return values == expected
    }
}
