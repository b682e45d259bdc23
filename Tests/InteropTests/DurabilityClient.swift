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
        var request = Etcdserverpb__PutRequest()
        etcdserverpb__put_request__init(&request)
        let bytes: [UInt8] = key.withUnsafeBufferPointer { key in
            value.withUnsafeBufferPointer { value in
                request.key = ProtobufCBinaryData(len: key.count, data: UnsafeMutablePointer(mutating: key.baseAddress))
                request.value = ProtobufCBinaryData(len: value.count, data: UnsafeMutablePointer(mutating: value.baseAddress))
                return ProtoCodec.packed(&request)
            }
        }
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
        var request = Etcdserverpb__RangeRequest()
        etcdserverpb__range_request__init(&request)
        let bytes: [UInt8] = start.withUnsafeBufferPointer { start in
            end.withUnsafeBufferPointer { end in
                request.key = ProtobufCBinaryData(len: start.count, data: UnsafeMutablePointer(mutating: start.baseAddress))
                request.range_end = ProtobufCBinaryData(len: end.count, data: UnsafeMutablePointer(mutating: end.baseAddress))
                return ProtoCodec.packed(&request)
            }
        }
        let reply = try await connection.unary("/etcdserverpb.KV/Range", bytes, timeout: Self.callTimeout)
        let decoded = reply.withUnsafeReadableBytes { raw -> [[UInt8]: StoredKey]? in
            guard let response = UnpackedMessage(etcdserverpb__range_response__init, bytes: raw) else { return nil }
            return response.withMessage { message in
                var found: [[UInt8]: StoredKey] = [:]
                for kv in ProtoRepeated.messages(message.pointee.kvs, count: message.pointee.n_kvs) {
                    let kv = kv!.pointee
                    found[copied(kv.key)] = StoredKey(value: copied(kv.value), modRevision: kv.mod_revision)
                }
                return found
            }
        }
        guard let decoded else { throw DurabilityFailure("Range reply does not decode") }
        return decoded
    }
}

/// A copy of a protobuf-c `bytes` field (valid while its message lives).
private func copied(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let bytes = data.data else { return [] }
    return [UInt8](UnsafeBufferPointer(start: bytes, count: data.len))
}

struct DurabilityFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
