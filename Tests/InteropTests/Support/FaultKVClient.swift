import CProtobufC
import EtcdProto
import EtcdServer
import NIOCore
import NIOPosix
import RPC

/// The KV calls the fault schedule's clients make (put, get linearizable or serializable, delete,
/// compare-and-set by value), over our gRPC client, with a short deadline so a paused or cut-off member
/// turns into an "unknown" outcome quickly. Every answer carries the header revision.
struct FaultKVClient: Sendable {
    let connection: GRPCClientConnection
    let timeout: TimeAmount

    static func connect(port: Int, timeout: TimeAmount = .seconds(2)) async throws -> FaultKVClient {
        let connection = try await GRPCClientConnection.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        return FaultKVClient(connection: connection, timeout: timeout)
    }

    func close() async { await connection.close() }

    func put(_ key: String, _ value: String) async throws -> Int64 {
        let reply = try await connection.unary("/etcdserverpb.KV/Put", RequestPacking.put(key: Array(key.utf8), value: Array(value.utf8)),
                                               timeout: timeout)
        return try Self.decode(reply, etcdserverpb__put_response__init) { $0.header?.pointee.revision }
    }

    /// The key's value (nil: absent) and the header revision.
    func get(_ key: String, serializable: Bool) async throws -> (value: String?, revision: Int64) {
        let reply = try await connection.unary("/etcdserverpb.KV/Range",
                                               RequestPacking.range(key: Array(key.utf8), serializable: serializable), timeout: timeout)
        return try Self.decode(reply, etcdserverpb__range_response__init) { m -> (String?, Int64)? in
            guard let revision = m.header?.pointee.revision else { return nil }
            let kvs = ProtoRepeated.messages(m.kvs, count: m.n_kvs)
            let value = kvs.first.map { String(decoding: ProtoBytes.copy($0!.pointee.value), as: UTF8.self) }
            return (value, revision)
        }
    }

    /// How many keys it deleted (0 or 1) and the header revision.
    func delete(_ key: String) async throws -> (deleted: Int, revision: Int64) {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__DeleteRangeRequest()
        etcdserverpb__delete_range_request__init(&request)
        request.key = arena.binary(Array(key.utf8))
        let bytes = withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
        let reply = try await connection.unary("/etcdserverpb.KV/DeleteRange", bytes, timeout: timeout)
        return try Self.decode(reply, etcdserverpb__delete_range_response__init) { m -> (Int, Int64)? in
            m.header.map { (Int(m.deleted), $0.pointee.revision) }
        }
    }

    /// Txn: if value(key) == expected (nil: the key is absent, create_revision == 0) then put(key, new).
    func compareAndSet(_ key: String, expected: String?, new: String) async throws -> (succeeded: Bool, revision: Int64) {
        let arena = ProtoArena(chunkBytes: 1024)
        var request = Etcdserverpb__TxnRequest()
        etcdserverpb__txn_request__init(&request)
        let c = arena.message(etcdserverpb__compare__init)
        c.pointee.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL
        c.pointee.key = arena.binary(Array(key.utf8))
        if let expected {
            c.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE
            c.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE
            c.pointee.value = arena.binary(Array(expected.utf8))
        } else {
            c.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE
            c.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION
            c.pointee.create_revision = 0
        }
        let compares = arena.pointerArray(of: Etcdserverpb__Compare.self, count: 1)
        compares[0] = c
        request.n_compare = 1
        request.compare = compares
        let p = arena.message(etcdserverpb__put_request__init)
        p.pointee.key = arena.binary(Array(key.utf8))
        p.pointee.value = arena.binary(Array(new.utf8))
        let op = arena.message(etcdserverpb__request_op__init)
        op.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT
        op.pointee.request_put = p
        let ops = arena.pointerArray(of: Etcdserverpb__RequestOp.self, count: 1)
        ops[0] = op
        request.n_success = 1
        request.success = ops
        let bytes = withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
        let reply = try await connection.unary("/etcdserverpb.KV/Txn", bytes, timeout: timeout)
        return try Self.decode(reply, etcdserverpb__txn_response__init) { m -> (Bool, Int64)? in
            m.header.map { (m.succeeded != 0, $0.pointee.revision) }
        }
    }

    private static func decode<T, R>(_ reply: ByteBuffer, _ initialize: (UnsafeMutablePointer<T>) -> Void,
                                     _ read: (T) -> R?) throws -> R {
        let value = reply.withUnsafeReadableBytes { raw -> R? in
            guard let response = UnpackedMessage(initialize, bytes: raw) else { return nil }
            return response.withMessage { read($0.pointee) }
        }
        guard let value else { throw HarnessError.badOutput("\(T.self) reply does not decode") }
        return value
    }
}
