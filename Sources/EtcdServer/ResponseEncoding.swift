import CProtobufC
import EtcdProto
import MVCC
import RPC

/// What every response header carries.
struct HeaderFields: Sendable {
    var clusterID: UInt64
    var memberID: UInt64
    var revision: Int64
    var raftTerm: UInt64
}

/// MVCC results → protobuf-c structs (built in a `ProtoArena`) → packed straight into the gRPC frame.
struct ResponseBuilder {
    let arena: ProtoArena

    init() {
        arena = ProtoArena(chunkBytes: 4096)
    }

    func header(_ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__ResponseHeader> {
        let m = arena.message(etcdserverpb__response_header__init)
        m.pointee.cluster_id = h.clusterID
        m.pointee.member_id = h.memberID
        m.pointee.revision = h.revision
        m.pointee.raft_term = h.raftTerm
        return m
    }

    func keyValue(_ kv: KeyValue) -> UnsafeMutablePointer<Mvccpb__KeyValue> {
        let m = arena.message(mvccpb__key_value__init)
        m.pointee.key = arena.binary(kv.key)
        m.pointee.create_revision = kv.createRevision
        m.pointee.mod_revision = kv.modRevision
        m.pointee.version = kv.version
        m.pointee.value = arena.binary(kv.value)
        m.pointee.lease = kv.lease
        return m
    }

    func keyValues(_ kvs: [KeyValue]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Mvccpb__KeyValue>?>?) {
        guard !kvs.isEmpty else { return (0, nil) }
        let list = arena.pointerArray(of: Mvccpb__KeyValue.self, count: kvs.count)
        for (i, kv) in kvs.enumerated() { list[i] = keyValue(kv) }
        return (kvs.count, list)
    }

    func range(_ r: RangeResponse, _ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__RangeResponse> {
        let m = arena.message(etcdserverpb__range_response__init)
        m.pointee.header = header(h)
        (m.pointee.n_kvs, m.pointee.kvs) = keyValues(r.kvs)
        m.pointee.more = r.more ? 1 : 0
        m.pointee.count = r.count
        return m
    }

    func put(_ r: PutResponse, _ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__PutResponse> {
        let m = arena.message(etcdserverpb__put_response__init)
        m.pointee.header = header(h)
        if let prev = r.prevKV { m.pointee.prev_kv = keyValue(prev) }
        return m
    }

    func deleteRange(_ r: DeleteRangeResponse, _ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__DeleteRangeResponse> {
        let m = arena.message(etcdserverpb__delete_range_response__init)
        m.pointee.header = header(h)
        m.pointee.deleted = r.deleted
        (m.pointee.n_prev_kvs, m.pointee.prev_kvs) = keyValues(r.prevKVs)
        return m
    }

    /// The top-level header carries every field; nested responses carry only the revision etcd's applier sets
    /// (a range's read revision, a put's or delete's write revision, nothing for a nested txn).
    func txn(_ r: TxnResponse, _ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__TxnResponse> {
        let m = txnBody(r, txnRevision: h.revision)
        m.pointee.header = header(h)
        return m
    }

    private func txnBody(_ r: TxnResponse, txnRevision: Int64) -> UnsafeMutablePointer<Etcdserverpb__TxnResponse> {
        let m = arena.message(etcdserverpb__txn_response__init)
        m.pointee.succeeded = r.succeeded ? 1 : 0
        guard !r.responses.isEmpty else { return m }
        let list = arena.pointerArray(of: Etcdserverpb__ResponseOp.self, count: r.responses.count)
        for (i, op) in r.responses.enumerated() {
            let o = arena.message(etcdserverpb__response_op__init)
            switch op {
            case .range(let x):
                o.pointee.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE
                o.pointee.response_range = range(x, HeaderFields(clusterID: 0, memberID: 0, revision: x.revision, raftTerm: 0))
            case .put(let x):
                o.pointee.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT
                o.pointee.response_put = put(x, HeaderFields(clusterID: 0, memberID: 0, revision: txnRevision, raftTerm: 0))
            case .deleteRange(let x):
                o.pointee.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE
                o.pointee.response_delete_range = deleteRange(x, HeaderFields(clusterID: 0, memberID: 0, revision: txnRevision, raftTerm: 0))
            case .txn(let x):
                o.pointee.response_case = ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN
                let nested = txnBody(x, txnRevision: txnRevision)
                nested.pointee.header = arena.message(etcdserverpb__response_header__init)
                o.pointee.response_txn = nested
            }
            list[i] = o
        }
        m.pointee.n_responses = r.responses.count
        m.pointee.responses = list
        return m
    }

    func compaction(_ h: HeaderFields) -> UnsafeMutablePointer<Etcdserverpb__CompactionResponse> {
        let m = arena.message(etcdserverpb__compaction_response__init)
        m.pointee.header = header(h)
        return m
    }
}

extension ServerCall {
    /// Builds a response in a fresh arena and packs it straight into the frame, then ends the call with OK.
    /// The arena must outlive the pack: Swift may release a value right after its last use, so the builder
    /// is only reachable inside `build` and held alive across packing here.
    func respond<M>(_ build: (ResponseBuilder) -> UnsafeMutablePointer<M>) {
        packed(build) { size, encode in respond(size: size, encode: encode) }
    }

    /// Like `respond`, for one message of a stream: the call stays open.
    func sendMessage<M>(_ build: (ResponseBuilder) -> UnsafeMutablePointer<M>) {
        packed(build) { size, encode in send(size: size, encode: encode) }
    }

    private func packed<M>(_ build: (ResponseBuilder) -> UnsafeMutablePointer<M>,
                           _ emit: (Int, (UnsafeMutableRawBufferPointer) -> Void) -> Void) {
        let builder = ResponseBuilder()
        withExtendedLifetime(builder.arena) {
            let message = build(builder)
            let base = UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
            let size = protobuf_c_message_get_packed_size(base)
            emit(size) { out in
                let written = protobuf_c_message_pack(base, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                precondition(written == size, "protobuf-c packed a different size than it measured")
            }
        }
    }

    func fail(_ error: EtcdServerError) {
        finish(error.status)
    }
}
