import EtcdProto
import MVCC
import NIOCore
import RPC

/// etcdserverpb.KV: reads are served from the MVCC store on the event loop; every mutation goes through
/// Raft and is answered once committed and applied here; linearizable reads (and read-only Txns) wait for a
/// ReadIndex round, serializable ones are served from local state at once, like etcd's.
struct KVService: Sendable {
    let context: ServerContext

    func register(into grpc: inout GRPCServer) {
        grpc.register("/etcdserverpb.KV/Range", .unary { call, request in range(call, request) })
        grpc.register("/etcdserverpb.KV/Put", .unary { call, request in put(call, request) })
        grpc.register("/etcdserverpb.KV/DeleteRange", .unary { call, request in deleteRange(call, request) })
        grpc.register("/etcdserverpb.KV/Txn", .unary { call, request in txn(call, request) })
        grpc.register("/etcdserverpb.KV/Compact", .unary { call, request in compact(call, request) })
    }

    private var descriptors: Descriptors { Descriptors.shared }

    func range(_ call: ServerCall, _ request: ByteBuffer) {
        let resolution = context.auth.resolve(call)
        guard case .caller(let caller) = resolution else {
            return context.auth.settle(resolution, call, raft: context.raft) { range(call, request) }
        }
        do throws(EtcdServerError) {
            let r = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__RangeRequest.self, descriptors.rangeRequest, raw) { m throws(EtcdServerError) in
                    try RequestDecoding.range(m)
                }
            }
            try check { () throws(EtcdError) in try RequestValidation.check(r) }
            if r.serializable { return Self.serveRange(call, r, caller: caller, context: context) }
            // A learner serves only serializable reads, as etcd's interceptor allows.
            if context.published.isLearner { throw EtcdServerError.learnerNotSupported }
            // Linearizable: a ReadIndex round confirms this member has applied everything committed
            // when the read arrived, then the read is served here.
            let context = self.context
            context.raft.linearizableRead { error in
                call.eventLoop.execute {
                    if let error { return call.fail(error) }
                    Self.serveRange(call, r, caller: caller, context: context)
                }
            }
        } catch {
            call.fail(error)
        }
    }

    /// etcd's doSerialize: the permission is checked when the read is served, and a read that raced a
    /// change of the auth state is refused rather than answered under the old rules.
    private static func serveRange(_ call: ServerCall, _ r: RangeRequest, caller: AuthCaller?, context: ServerContext) {
        do throws(EtcdServerError) {
            try context.auth.checkRead(caller, key: r.key, rangeEnd: r.rangeEnd)
            let result = try store { () throws(EtcdError) in try context.store.range(r) }
            try context.auth.checkUnchanged(caller)
            call.respond { $0.range(result, context.header(revision: result.revision)) }
        } catch {
            call.fail(error)
        }
    }

    func put(_ call: ServerCall, _ request: ByteBuffer) {
        propose(call, request, field: .put) { raw throws(EtcdServerError) in
            let r = try withDecoded(Etcdserverpb__PutRequest.self, descriptors.putRequest, raw) { m in RequestDecoding.put(m) }
            try check { () throws(EtcdError) in try RequestValidation.check(r) }
            return .put(r)
        }
    }

    func deleteRange(_ call: ServerCall, _ request: ByteBuffer) {
        propose(call, request, field: .deleteRange) { raw throws(EtcdServerError) in
            let r = try withDecoded(Etcdserverpb__DeleteRangeRequest.self, descriptors.deleteRangeRequest, raw) { m in
                RequestDecoding.deleteRange(m)
            }
            try check { () throws(EtcdError) in try RequestValidation.check(r) }
            return .deleteRange(r)
        }
    }

    func txn(_ call: ServerCall, _ request: ByteBuffer) {
        let maxTxnOps = context.limits.maxTxnOps
        propose(call, request, field: .txn) { raw throws(EtcdServerError) in
            let r = try withDecoded(Etcdserverpb__TxnRequest.self, descriptors.txnRequest, raw) { m throws(EtcdServerError) in
                try RequestDecoding.txn(m)
            }
            try check { () throws(EtcdError) in try RequestValidation.check(r, maxTxnOps: maxTxnOps) }
            return .txn(r)
        }
    }

    func compact(_ call: ServerCall, _ request: ByteBuffer) {
        propose(call, request, field: .compaction) { raw throws(EtcdServerError) in
            .compact(try withDecoded(Etcdserverpb__CompactionRequest.self, descriptors.compactionRequest, raw) { m in
                RequestDecoding.compaction(m)
            })
        }
    }

    /// Decode + validate on the event loop, then propose; the answer is encoded back on the event loop.
    /// A read-only Txn (etcd's isTxnReadonly) is answered from the store right here, as etcd does.
    private func propose(_ call: ServerCall, _ request: ByteBuffer, field: InternalRequestCodec.Field,
                         decode: (UnsafeRawBufferPointer) throws(EtcdServerError) -> WriteOp) {
        let context = self.context
        let resolution = context.auth.resolve(call)
        guard case .caller(let caller) = resolution else {
            return context.auth.settle(resolution, call, raft: context.raft) {
                KVService(context: context).redo(call, request, field: field)
            }
        }
        do throws(EtcdServerError) {
            let op = try withBytes(request) { raw throws(EtcdServerError) in try decode(raw) }
            if case .txn(let t) = op, t.isReadOnly, t.isSerializable {
                return Self.serveReadOnlyTxn(call, t, caller: caller, context: context)
            }
            if context.published.isLearner { throw EtcdServerError.learnerNotSupported }
            if case .txn(let t) = op, t.isReadOnly {
                context.raft.linearizableRead { error in
                    call.eventLoop.execute {
                        if let error { return call.fail(error) }
                        Self.serveReadOnlyTxn(call, t, caller: caller, context: context)
                    }
                }
                return
            }
            switch op {
            case .put(let p): try AlarmService.admit(cost: p.putCost, context: context)
            case .txn(let t): try AlarmService.admit(cost: t.putCost, context: context)
            default: break
            }
            let id = context.nextRequestID()
            let data = request.withUnsafeReadableBytes { raw in
                InternalRequestCodec.encode(id: id, field: field, request: raw, caller: caller ?? .anonymous)
            }
            if data.count > context.limits.maxRequestBytes { throw EtcdServerError.requestTooLarge }
            if let error = context.propose(data, id: id, on: call.eventLoop, done: { result in
                Self.answer(call, result, context: context)
            }) {
                throw error
            }
        } catch {
            call.fail(error)
        }
    }

    private static func serveReadOnlyTxn(_ call: ServerCall, _ t: TxnRequest, caller: AuthCaller?, context: ServerContext) {
        do throws(EtcdServerError) {
            try context.auth.checkTxn(caller, t)
            let result = try store { () throws(EtcdError) in try context.store.readOnlyTxn(t) }
            try context.auth.checkUnchanged(caller)
            call.respond { $0.txn(result.response, context.header(revision: result.revision)) }
        } catch {
            call.fail(error)
        }
    }

    /// A mutation again, once the token it came with can be resolved.
    private func redo(_ call: ServerCall, _ request: ByteBuffer, field: InternalRequestCodec.Field) {
        switch field {
        case .put: put(call, request)
        case .deleteRange: deleteRange(call, request)
        case .txn: txn(call, request)
        default: compact(call, request)
        }
    }

    private static func answer(_ call: ServerCall, _ result: ApplyResult, context: ServerContext) {
        switch result.outcome {
        case .failed(let error):
            call.fail(EtcdServerError(error))
        case .skipped:
            call.fail(EtcdServerError(.internal, "etcdserver: request was already applied"))
        case .applied(let response):
            let header = context.header(revision: result.revision)
            switch response {
            case .put(let r): call.respond { $0.put(r, header) }
            case .deleteRange(let r): call.respond { $0.deleteRange(r, header) }
            case .txn(let r): call.respond { $0.txn(r, header) }
            case .compact: call.respond { $0.compaction(header) }
            case .deleteKeys, .leaseGrant, .leaseRevoke, .leaseCheckpoint, .auth, .noop: call.finish(.ok)
            }
        }
    }

    private static func store<R>(_ body: () throws(EtcdError) -> R) throws(EtcdServerError) -> R {
        do { return try body() } catch { throw EtcdServerError(error) }
    }

    private func check(_ body: () throws(EtcdError) -> Void) throws(EtcdServerError) {
        do { try body() } catch { throw EtcdServerError(error) }
    }
}

extension TxnRequest {
    /// etcd's isTxnSerializable: every op of both branches is a serializable Range (then no ReadIndex).
    var isSerializable: Bool {
        for op in success + failure {
            guard case .range(let r) = op, r.serializable else { return false }
        }
        return true
    }
}
