import CProtobufC
import EtcdProto
import EtcdServer
import Foundation
import NIOCore
import NIOPosix
import RPC

/// A key-value pair as a watch response carries it (mvccpb.KeyValue), in Swift values.
struct WatchKV: Sendable, Equatable, CustomStringConvertible {
    var key: [UInt8]
    var value: [UInt8] = []
    var createRevision: Int64 = 0
    var modRevision: Int64 = 0
    var version: Int64 = 0

    var description: String {
        "\(String(decoding: key, as: UTF8.self))=\(String(decoding: value, as: UTF8.self))"
            + "(c\(createRevision) m\(modRevision) v\(version))"
    }
}

/// One mvccpb.Event.
struct WatchEventValue: Sendable, Equatable, CustomStringConvertible {
    var isPut: Bool
    var kv: WatchKV
    var prevKV: WatchKV?

    var description: String { "\(isPut ? "PUT" : "DEL") \(kv)" + (prevKV.map { " prev \($0)" } ?? "") }
}

/// One etcdserverpb.WatchResponse, decoded.
struct WatchResponseValue: Sendable, CustomStringConvertible {
    var watchID: Int64
    var created: Bool
    var canceled: Bool
    var compactRevision: Int64
    var cancelReason: String
    var fragment: Bool
    var headerRevision: Int64
    var events: [WatchEventValue]

    var description: String {
        var parts = ["id \(watchID)", "rev \(headerRevision)"]
        if created { parts.append("created") }
        if canceled { parts.append("canceled") }
        if compactRevision != 0 { parts.append("compact \(compactRevision)") }
        if !cancelReason.isEmpty { parts.append("reason \(cancelReason)") }
        if fragment { parts.append("fragment") }
        if !events.isEmpty { parts.append("events [\(events.map(\.description).joined(separator: ", "))]") }
        return "{" + parts.joined(separator: " ") + "}"
    }
}

/// One etcdserverpb.Watch/Watch stream over our gRPC client: sends create/cancel/progress requests and
/// records every response, decoded, in arrival order.
final class WatchClientStream: @unchecked Sendable {  // mutable state behind `lock`
    private let lock = NSLock()
    private var received: [WatchResponseValue] = []
    private var undecodable = 0
    private let call: ClientCall

    private init(call: ClientCall) { self.call = call }

    static func open(_ connection: GRPCClientConnection) async throws -> WatchClientStream {
        let box = Box()
        let call = try await connection.makeCall("/etcdserverpb.Watch/Watch") { message in
            box.stream?.receive(message)
        }.get()
        let stream = WatchClientStream(call: call)
        box.stream = stream
        // A response that raced the box assignment cannot exist: the server answers only requests.
        return stream
    }

    private final class Box: @unchecked Sendable { var stream: WatchClientStream? }

    /// Everything received so far.
    var responses: [WatchResponseValue] { lock.withLock { received } }
    var undecodableCount: Int { lock.withLock { undecodable } }
    /// The final status once the server ended the stream (nil while it is open).
    var response: EventLoopFuture<GRPCResponse> { call.response }

    private func receive(_ message: ByteBuffer) {
        let decoded = message.withUnsafeReadableBytes { raw -> WatchResponseValue? in
            guard let response = UnpackedMessage(etcdserverpb__watch_response__init, bytes: raw) else { return nil }
            return response.withMessage { m -> WatchResponseValue in
                let r = m.pointee
                var events: [WatchEventValue] = []
                for e in ProtoRepeated.messages(r.events, count: r.n_events) {
                    let e = e!.pointee
                    events.append(WatchEventValue(isPut: e.type == MVCCPB__EVENT__EVENT_TYPE__PUT,
                                                  kv: e.kv.map { Self.kv($0.pointee) } ?? WatchKV(key: []),
                                                  prevKV: e.prev_kv.map { Self.kv($0.pointee) }))
                }
                return WatchResponseValue(
                    watchID: r.watch_id, created: r.created != 0, canceled: r.canceled != 0,
                    compactRevision: r.compact_revision,
                    cancelReason: r.cancel_reason.map { String(cString: $0) } ?? "",
                    fragment: r.fragment != 0, headerRevision: r.header?.pointee.revision ?? 0, events: events)
            }
        }
        lock.withLock {
            if let decoded { received.append(decoded) } else { undecodable += 1 }
        }
    }

    private static func kv(_ kv: Mvccpb__KeyValue) -> WatchKV {
        WatchKV(key: ProtoBytes.copy(kv.key), value: ProtoBytes.copy(kv.value), createRevision: kv.create_revision,
                modRevision: kv.mod_revision, version: kv.version)
    }

    /// WatchCreateRequest; `watchID` 0 lets the server choose.
    func create(key: [UInt8], rangeEnd: [UInt8] = [], startRevision: Int64 = 0, prevKV: Bool = false,
                noPut: Bool = false, noDelete: Bool = false, watchID: Int64 = 0) {
        let arena = ProtoArena(chunkBytes: 512)
        var request = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&request)
        let create = arena.message(etcdserverpb__watch_create_request__init)
        create.pointee.key = arena.binary(key)
        create.pointee.range_end = arena.binary(rangeEnd)
        create.pointee.start_revision = startRevision
        create.pointee.prev_kv = prevKV ? 1 : 0
        create.pointee.watch_id = watchID
        var filters: [Etcdserverpb__WatchCreateRequest__FilterType] = []
        if noPut { filters.append(ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT) }
        if noDelete { filters.append(ETCDSERVERPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE) }
        if !filters.isEmpty {
            let list = arena.allocate(Etcdserverpb__WatchCreateRequest__FilterType.self, count: filters.count)
            for (i, f) in filters.enumerated() { list[i] = f }
            create.pointee.n_filters = filters.count
            create.pointee.filters = list
        }
        request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST
        request.create_request = create
        send(withExtendedLifetime(arena) { ProtoCodec.packed(&request) })
    }

    func cancel(watchID: Int64) {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&request)
        let cancel = arena.message(etcdserverpb__watch_cancel_request__init)
        cancel.pointee.watch_id = watchID
        request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST
        request.cancel_request = cancel
        send(withExtendedLifetime(arena) { ProtoCodec.packed(&request) })
    }

    func requestProgress() {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&request)
        request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST
        request.progress_request = arena.message(etcdserverpb__watch_progress_request__init)
        send(withExtendedLifetime(arena) { ProtoCodec.packed(&request) })
    }

    private func send(_ bytes: [UInt8]) { call.send(ByteBuffer(bytes: bytes)) }

    /// Half-closes, then resets the stream.
    func close() {
        call.closeSend()
        call.cancel()
    }

    /// Polls the received responses until `done` holds or `deadline` passes; returns whether it held.
    func wait(until deadline: ContinuousClock.Instant, _ done: ([WatchResponseValue]) -> Bool) async -> Bool {
        while true {
            if done(responses) { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))  // polling a network peer's progress under a deadline
        }
    }
}

/// The writes the watch property test drives, over our gRPC client; each returns the header revision.
struct WatchKVClient: Sendable {
    let connection: GRPCClientConnection
    static let callTimeout = TimeAmount.seconds(10)

    static func connect(host: String = "127.0.0.1", port: Int) async throws -> WatchKVClient {
        WatchKVClient(connection: try await GRPCClientConnection.connect(
            host: host, port: port, group: MultiThreadedEventLoopGroup.singleton))
    }

    func close() async { await connection.close() }

    enum Op: Sendable {
        case put([UInt8], [UInt8])
        case delete([UInt8], rangeEnd: [UInt8])
    }

    func put(_ key: [UInt8], _ value: [UInt8]) async throws -> Int64 {
        try await revision(of: connection.unary("/etcdserverpb.KV/Put", RequestPacking.put(key: key, value: value),
                                                timeout: Self.callTimeout), etcdserverpb__put_response__init, { $0.header })
    }

    func delete(_ key: [UInt8], rangeEnd: [UInt8]) async throws -> Int64 {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__DeleteRangeRequest()
        etcdserverpb__delete_range_request__init(&request)
        request.key = arena.binary(key)
        request.range_end = arena.binary(rangeEnd)
        let bytes = withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
        return try await revision(of: connection.unary("/etcdserverpb.KV/DeleteRange", bytes, timeout: Self.callTimeout),
                                  etcdserverpb__delete_range_response__init, { $0.header })
    }

    /// A txn: if `compare` (key's mod_revision == value) holds, or there is none, `success` runs, else `failure`.
    /// Returns the header revision and whether it succeeded.
    func txn(compareModRevision compare: ([UInt8], Int64)?, success: [Op], failure: [Op]) async throws -> (Int64, Bool) {
        let arena = ProtoArena(chunkBytes: 1024)
        var request = Etcdserverpb__TxnRequest()
        etcdserverpb__txn_request__init(&request)
        if let (key, modRevision) = compare {
            let c = arena.message(etcdserverpb__compare__init)
            c.pointee.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL
            c.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD
            c.pointee.key = arena.binary(key)
            c.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION
            c.pointee.mod_revision = modRevision
            let list = arena.pointerArray(of: Etcdserverpb__Compare.self, count: 1)
            list[0] = c
            request.n_compare = 1
            request.compare = list
        }
        func ops(_ ops: [Op]) -> UnsafeMutablePointer<UnsafeMutablePointer<Etcdserverpb__RequestOp>?>? {
            guard !ops.isEmpty else { return nil }
            let list = arena.pointerArray(of: Etcdserverpb__RequestOp.self, count: ops.count)
            for (i, op) in ops.enumerated() {
                let r = arena.message(etcdserverpb__request_op__init)
                switch op {
                case .put(let key, let value):
                    let p = arena.message(etcdserverpb__put_request__init)
                    p.pointee.key = arena.binary(key)
                    p.pointee.value = arena.binary(value)
                    r.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT
                    r.pointee.request_put = p
                case .delete(let key, let rangeEnd):
                    let d = arena.message(etcdserverpb__delete_range_request__init)
                    d.pointee.key = arena.binary(key)
                    d.pointee.range_end = arena.binary(rangeEnd)
                    r.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE
                    r.pointee.request_delete_range = d
                }
                list[i] = r
            }
            return list
        }
        request.n_success = success.count
        request.success = ops(success)
        request.n_failure = failure.count
        request.failure = ops(failure)
        let bytes = withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
        let reply = try await connection.unary("/etcdserverpb.KV/Txn", bytes, timeout: Self.callTimeout)
        let decoded = reply.withUnsafeReadableBytes { raw -> (Int64, Bool)? in
            guard let response = UnpackedMessage(etcdserverpb__txn_response__init, bytes: raw) else { return nil }
            return response.withMessage { m in
                guard let revision = m.pointee.header?.pointee.revision else { return nil }
                return (revision, m.pointee.succeeded != 0)
            }
        }
        guard let decoded else { throw HarnessError.badOutput("Txn reply without a header revision") }
        return decoded
    }

    func compact(_ revision: Int64) async throws -> Int64 {
        var request = Etcdserverpb__CompactionRequest()
        etcdserverpb__compaction_request__init(&request)
        request.revision = revision
        let bytes = ProtoCodec.packed(&request)
        return try await self.revision(of: connection.unary("/etcdserverpb.KV/Compact", bytes, timeout: Self.callTimeout),
                                       etcdserverpb__compaction_response__init, { $0.header })
    }

    /// A linearizable Range's header revision: the member's current revision.
    func currentRevision() async throws -> Int64 {
        try await revision(of: connection.unary("/etcdserverpb.KV/Range", RequestPacking.range(key: Array("\u{0}".utf8)),
                                                timeout: Self.callTimeout), etcdserverpb__range_response__init, { $0.header })
    }

    /// The `header.revision` of a KV response.
    private func revision<T>(of reply: ByteBuffer, _ initialize: (UnsafeMutablePointer<T>) -> Void,
                             _ header: (T) -> UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?) throws -> Int64 {
        let revision = reply.withUnsafeReadableBytes { raw -> Int64? in
            guard let response = UnpackedMessage(initialize, bytes: raw) else { return nil }
            return response.withMessage { header($0.pointee)?.pointee.revision }
        }
        guard let revision else { throw HarnessError.badOutput("\(T.self) reply without a header revision") }
        return revision
    }
}
