import EtcdProto
import MVCC
import NIOCore
import RPC

/// etcdserverpb.KV: reads are served from the MVCC store on the event loop; every mutation goes through
/// the write pipeline and is answered once durable and applied; read-only Txns are served locally, like etcd's.
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
        do throws(EtcdServerError) {
            let r = try withBytes(request) { raw throws(EtcdServerError) in
                try withDecoded(Etcdserverpb__RangeRequest.self, descriptors.rangeRequest, raw) { m throws(EtcdServerError) in
                    try RequestDecoding.range(m)
                }
            }
            try check { () throws(EtcdError) in try RequestValidation.check(r) }
            let result: RangeResponse
            do { result = try context.store.range(r) } catch { throw EtcdServerError(error) }
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
        do throws(EtcdServerError) {
            let op = try withBytes(request) { raw throws(EtcdServerError) in try decode(raw) }
            if case .txn(let t) = op, t.isReadOnly {
                let result: TxnResponse.WithRevision
                do { result = try context.store.readOnlyTxn(t) } catch { throw EtcdServerError(error) }
                call.respond { $0.txn(result.response, context.header(revision: result.revision)) }
                return
            }
            let data = request.withUnsafeReadableBytes { raw in
                InternalRequestCodec.encode(id: context.nextRequestID(), field: field, request: raw)
            }
            if data.count > context.limits.maxRequestBytes { throw EtcdServerError.requestTooLarge }
            if let error = context.pipeline.propose(op, data: data, done: { result in
                call.eventLoop.execute { Self.answer(call, result, context: context) }
            }) {
                throw error
            }
        } catch {
            call.fail(error)
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
            case .deleteKeys, .noop: call.finish(.ok)
            }
        }
    }

    private func check(_ body: () throws(EtcdError) -> Void) throws(EtcdServerError) {
        do { try body() } catch { throw EtcdServerError(error) }
    }
}
