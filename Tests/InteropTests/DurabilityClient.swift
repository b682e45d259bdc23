import CProtobufC
import EtcdProto
import EtcdServer
import NIOCore
import NIOPosix
import RPC

/// The two KV calls the durability tests need, over our own gRPC client.
struct DurabilityClient: Sendable {
    let connection: GRPCClientConnection
    static let callTimeout = TimeAmount.seconds(10)

    static func connect(_ server: ServerProcess) async throws -> DurabilityClient {
        let connection = try await GRPCClientConnection.connect(
            host: "127.0.0.1", port: Int(server.ports.client), group: MultiThreadedEventLoopGroup.singleton)
        return DurabilityClient(connection: connection)
    }

    func close() async { await connection.close() }

    /// Puts `key` = `value`; returns the revision in the response header (the put's revision).
    func put(_ key: [UInt8], _ value: [UInt8]) async throws -> Int64 {
        let bytes = RequestPacking.put(key: key, value: value)
        let reply = try await connection.unary("/etcdserverpb.KV/Put", bytes, timeout: Self.callTimeout)
        let revision = reply.withUnsafeReadableBytes { raw -> Int64? in
            guard let response = UnpackedMessage(etcdserverpb__put_response__init, bytes: raw) else { return nil }
            return response.withMessage { $0.pointee.header?.pointee.revision }
        }
        guard let revision, revision > 0 else { throw DurabilityFailure("Put reply without a header revision") }
        return revision
    }

    struct StoredKey: Sendable, Equatable {
        var value: [UInt8]
        var modRevision: Int64
    }

    /// Every key in [start, end) with its value and mod revision (linearizable read).
    func range(from start: [UInt8], to end: [UInt8]) async throws -> [[UInt8]: StoredKey] {
        let bytes = RequestPacking.range(key: start, rangeEnd: end)
        let reply = try await connection.unary("/etcdserverpb.KV/Range", bytes, timeout: Self.callTimeout)
        let decoded = reply.withUnsafeReadableBytes { raw -> [[UInt8]: StoredKey]? in
            guard let response = UnpackedMessage(etcdserverpb__range_response__init, bytes: raw) else { return nil }
            return response.withMessage { message in
                var found: [[UInt8]: StoredKey] = [:]
                for kv in ProtoRepeated.messages(message.pointee.kvs, count: message.pointee.n_kvs) {
                    let kv = kv!.pointee
                    found[ProtoBytes.copy(kv.key)] = StoredKey(value: ProtoBytes.copy(kv.value), modRevision: kv.mod_revision)
                }
                return found
            }
        }
        guard let decoded else { throw DurabilityFailure("Range reply does not decode") }
        return decoded
    }
}

struct DurabilityFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
