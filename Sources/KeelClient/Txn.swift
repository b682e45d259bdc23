import CProtobufC
import EtcdProto

/// One comparison of a transaction's guard (etcdserverpb.Compare).
public struct Compare: Sendable {
    public enum Result: UInt32, Sendable { case equal = 0, greater, less, notEqual }
    public enum Target: Sendable {
        case version(Int64), createRevision(Int64), modRevision(Int64), value([UInt8]), lease(Int64)
    }

    public var key: [UInt8]
    public var rangeEnd: [UInt8] = []
    public var result: Result
    public var target: Target

    public init(key: some EtcdBytes, rangeEnd: [UInt8] = [], _ result: Result, _ target: Target) {
        self.key = key.etcdBytes
        self.rangeEnd = rangeEnd
        self.result = result
        self.target = target
    }

    public static func value(_ key: some EtcdBytes, _ result: Result, _ value: some EtcdBytes) -> Compare {
        Compare(key: key, result, .value(value.etcdBytes))
    }
    public static func version(_ key: some EtcdBytes, _ result: Result, _ version: Int64) -> Compare {
        Compare(key: key, result, .version(version))
    }
    public static func createRevision(_ key: some EtcdBytes, _ result: Result, _ revision: Int64) -> Compare {
        Compare(key: key, result, .createRevision(revision))
    }
    public static func modRevision(_ key: some EtcdBytes, _ result: Result, _ revision: Int64) -> Compare {
        Compare(key: key, result, .modRevision(revision))
    }
    public static func lease(_ key: some EtcdBytes, _ result: Result, _ lease: Int64) -> Compare {
        Compare(key: key, result, .lease(lease))
    }
}

/// One operation of a transaction branch (etcdserverpb.RequestOp).
public struct Op: Sendable {
    indirect enum Kind: Sendable {
        case get([UInt8], RangeOptions)
        case put([UInt8], [UInt8], lease: Int64, prevKV: Bool)
        case delete([UInt8], rangeEnd: [UInt8], prevKV: Bool)
        case txn(Txn)
    }
    let kind: Kind

    public static func get(_ key: some EtcdBytes, options: RangeOptions = RangeOptions()) -> Op {
        Op(kind: .get(key.etcdBytes, options))
    }
    public static func put(_ key: some EtcdBytes, _ value: some EtcdBytes, lease: Int64 = 0, prevKV: Bool = false) -> Op {
        Op(kind: .put(key.etcdBytes, value.etcdBytes, lease: lease, prevKV: prevKV))
    }
    public static func delete(_ key: some EtcdBytes, rangeEnd: [UInt8] = [], prevKV: Bool = false) -> Op {
        Op(kind: .delete(key.etcdBytes, rangeEnd: rangeEnd, prevKV: prevKV))
    }
    public static func txn(_ txn: Txn) -> Op { Op(kind: .txn(txn)) }

    var isRead: Bool {
        switch kind {
        case .get: return true
        case .txn(let t): return t.success.allSatisfy(\.isRead) && t.failure.allSatisfy(\.isRead)
        default: return false
        }
    }
}

/// A transaction, built like clientv3's: `Txn().when(...).then(...).else(...)`.
public struct Txn: Sendable {
    public var compares: [Compare] = []
    public var success: [Op] = []
    public var failure: [Op] = []

    public init() {}

    public func when(_ compares: Compare...) -> Txn { var t = self; t.compares += compares; return t }
    public func then(_ ops: Op...) -> Txn { var t = self; t.success += ops; return t }
    public func `else`(_ ops: Op...) -> Txn { var t = self; t.failure += ops; return t }
}

/// The answer to one operation of the branch that ran.
public enum OpResponse: Sendable {
    case get(RangeResponse)
    case put(PutResponse)
    case delete(DeleteResponse)
    case txn(TxnResponse)
}

public struct TxnResponse: Sendable {
    public var header: ResponseHeader
    /// Whether every comparison held (the `then` branch ran).
    public var succeeded: Bool
    public var responses: [OpResponse]

    init(_ r: Etcdserverpb__TxnResponse) {
        header = ResponseHeader(r.header)
        succeeded = r.succeeded != 0
        responses = Proto.elements(r.responses, r.n_responses).compactMap { op in
            switch op.response_case {
            case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE: return op.response_range.map { .get(RangeResponse($0.pointee)) }
            case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT: return op.response_put.map { .put(PutResponse($0.pointee)) }
            case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
                return op.response_delete_range.map { .delete(DeleteResponse($0.pointee)) }
            case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN: return op.response_txn.map { .txn(TxnResponse($0.pointee)) }
            default: return nil
            }
        }
    }
}

enum TxnMessages {
    static func txn(_ b: MessageBuilder, _ txn: Txn) -> UnsafeMutablePointer<Etcdserverpb__TxnRequest> {
        let m = b.message(etcdserverpb__txn_request__init)
        m.pointee.n_compare = txn.compares.count
        m.pointee.compare = b.pointerArray(txn.compares.map { compare(b, $0) })
        m.pointee.n_success = txn.success.count
        m.pointee.success = b.pointerArray(txn.success.map { op(b, $0) })
        m.pointee.n_failure = txn.failure.count
        m.pointee.failure = b.pointerArray(txn.failure.map { op(b, $0) })
        return m
    }

    static func compare(_ b: MessageBuilder, _ c: Compare) -> UnsafeMutablePointer<Etcdserverpb__Compare> {
        let m = b.message(etcdserverpb__compare__init)
        m.pointee.key = b.binary(c.key)
        m.pointee.range_end = b.binary(c.rangeEnd)
        m.pointee.result = Etcdserverpb__Compare__CompareResult(rawValue: c.result.rawValue)
        switch c.target {
        case .version(let v):
            m.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION
            m.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION
            m.pointee.version = v
        case .createRevision(let v):
            m.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE
            m.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION
            m.pointee.create_revision = v
        case .modRevision(let v):
            m.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD
            m.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION
            m.pointee.mod_revision = v
        case .value(let v):
            m.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE
            m.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE
            m.pointee.value = b.binary(v)
        case .lease(let v):
            m.pointee.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE
            m.pointee.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE
            m.pointee.lease = v
        }
        return m
    }

    static func op(_ b: MessageBuilder, _ op: Op) -> UnsafeMutablePointer<Etcdserverpb__RequestOp> {
        let m = b.message(etcdserverpb__request_op__init)
        switch op.kind {
        case .get(let key, let options):
            m.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE
            m.pointee.request_range = KVMessages.range(b, key: key, options)
        case .put(let key, let value, let lease, let prevKV):
            m.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT
            m.pointee.request_put = KVMessages.put(b, key: key, value: value, lease: lease, prevKV: prevKV)
        case .delete(let key, let rangeEnd, let prevKV):
            m.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE
            m.pointee.request_delete_range = KVMessages.delete(b, key: key, rangeEnd: rangeEnd, prevKV: prevKV)
        case .txn(let inner):
            m.pointee.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN
            m.pointee.request_txn = txn(b, inner)
        }
        return m
    }
}

extension EtcdClient {
    /// KV.Txn. Retried on another endpoint only if it cannot have been sent (it may write).
    public func txn(_ txn: Txn) async throws -> TxnResponse {
        let readOnly = txn.success.allSatisfy(\.isRead) && txn.failure.allSatisfy(\.isRead)
        let bytes = try await unary("/etcdserverpb.KV/Txn", EtcdRequestEncoding.txn(txn),
                                    retry: readOnly ? .idempotent : .once)
        return try Proto.read(bytes, etcdserverpb__txn_response__unpack, etcdserverpb__txn_response__free_unpacked, TxnResponse.init)
    }
}
