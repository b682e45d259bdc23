import CProtobufC
import EtcdProto
import MVCC

/// protobuf-c request structs → MVCC's Swift request types. Enum values outside etcd's sets are rejected
/// as etcd's v3rpc layer does.
enum RequestDecoding {
    @inline(__always)
    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] { ProtoBytes.copy(data) }

    static func range(_ m: UnsafePointer<Etcdserverpb__RangeRequest>) throws(EtcdServerError) -> RangeRequest {
        let r = m.pointee
        guard let order = RangeRequest.SortOrder(rawValue: Int(r.sort_order.rawValue)),
              let target = RangeRequest.SortTarget(rawValue: Int(r.sort_target.rawValue)) else {
            throw .invalidSortOption
        }
        return RangeRequest(
            key: bytes(r.key), rangeEnd: bytes(r.range_end), limit: r.limit, revision: r.revision,
            sortOrder: order, sortTarget: target, serializable: r.serializable != 0, keysOnly: r.keys_only != 0,
            countOnly: r.count_only != 0, minModRevision: r.min_mod_revision, maxModRevision: r.max_mod_revision,
            minCreateRevision: r.min_create_revision, maxCreateRevision: r.max_create_revision)
    }

    static func put(_ m: UnsafePointer<Etcdserverpb__PutRequest>) -> PutRequest {
        let r = m.pointee
        return PutRequest(key: bytes(r.key), value: bytes(r.value), lease: r.lease, prevKV: r.prev_kv != 0,
                          ignoreValue: r.ignore_value != 0, ignoreLease: r.ignore_lease != 0)
    }

    static func deleteRange(_ m: UnsafePointer<Etcdserverpb__DeleteRangeRequest>) -> DeleteRangeRequest {
        let r = m.pointee
        return DeleteRangeRequest(key: bytes(r.key), rangeEnd: bytes(r.range_end), prevKV: r.prev_kv != 0)
    }

    static func compaction(_ m: UnsafePointer<Etcdserverpb__CompactionRequest>) -> CompactionRequest {
        CompactionRequest(revision: m.pointee.revision, physical: m.pointee.physical != 0)
    }

    /// Nesting is bounded by the request size limit and protobuf-c's own recursion limit.
    static func txn(_ m: UnsafePointer<Etcdserverpb__TxnRequest>) throws(EtcdServerError) -> TxnRequest {
        let r = m.pointee
        var compares: [Compare] = []
        compares.reserveCapacity(r.n_compare)
        for i in 0..<r.n_compare {
            guard let c = r.compare[i] else { continue }
            compares.append(try compare(c))
        }
        return TxnRequest(compare: compares, success: try ops(r.success, r.n_success),
                          failure: try ops(r.failure, r.n_failure))
    }

    private static func ops(_ list: UnsafeMutablePointer<UnsafeMutablePointer<Etcdserverpb__RequestOp>?>?,
                            _ count: Int) throws(EtcdServerError) -> [RequestOp] {
        guard let list, count > 0 else { return [] }
        var out: [RequestOp] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            guard let op = list[i] else { out.append(.none); continue }
            switch op.pointee.request_case {
            case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
                out.append(.range(try range(op.pointee.request_range)))
            case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT:
                out.append(.put(put(op.pointee.request_put)))
            case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
                out.append(.deleteRange(deleteRange(op.pointee.request_delete_range)))
            case ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_TXN:
                out.append(.txn(try txn(op.pointee.request_txn)))
            default:
                out.append(.none)
            }
        }
        return out
    }

    private static func compare(_ m: UnsafePointer<Etcdserverpb__Compare>) throws(EtcdServerError) -> Compare {
        let c = m.pointee
        // Unknown enum numbers: etcd's applyCompare treats them as a failed comparison; MVCC can't express
        // them, so map them to a compare that can never hold (equal on a value target with an impossible case
        // is not available) — reject instead, which is what a well-formed client never triggers.
        guard let result = Compare.Result(rawValue: Int(c.result.rawValue)),
              let target = Compare.Target(rawValue: Int(c.target.rawValue)) else {
            throw EtcdServerError(.invalidArgument, "etcdserver: invalid compare")
        }
        var out = Compare(result: result, target: target, key: bytes(c.key), rangeEnd: bytes(c.range_end))
        switch c.target_union_case {
        case ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION: out.version = c.version
        case ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION: out.createRevision = c.create_revision
        case ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION: out.modRevision = c.mod_revision
        case ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE: out.value = bytes(c.value)
        case ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE: out.lease = c.lease
        default: break
        }
        return out
    }
}
