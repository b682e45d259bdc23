import CProtobufC
import EtcdProto
import MVCC

/// Log entries carry a `keelpb.InternalRequest`. The client's request bytes are embedded as they arrived
/// (a sub-message is just a length-delimited field), so proposing costs no re-encoding.
enum InternalRequestCodec {
    /// Field numbers of `InternalRequest.request` (keelpb/internal.proto).
    enum Field: UInt64 {
        case range = 3, put = 4, deleteRange = 5, txn = 6, compaction = 7
    }

    static func encode(id: UInt64, field: Field, request: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(request.count + 24)
        appendVarint(1 << 3 | 0, to: &out)  // ID, varint
        appendVarint(id, to: &out)
        appendVarint(field.rawValue << 3 | 2, to: &out)  // the request, length-delimited
        appendVarint(UInt64(request.count), to: &out)
        out.append(contentsOf: request)
        return out
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Replays a log entry into the operation it stands for. Unknown or empty requests advance the
    /// consistent index only (they belong to state machines this build doesn't have yet).
    static func decode(_ data: [UInt8]) throws(EtcdServerError) -> WriteOp {
        try withBytes(data) { raw throws(EtcdServerError) -> WriteOp in
            try withDecoded(Keelpb__InternalRequest.self, Descriptors.shared.internalRequest, raw) { m throws(EtcdServerError) in
                let r = m.pointee
                switch r.request_case {
                case KEELPB__INTERNAL_REQUEST__REQUEST_PUT:
                    return .put(RequestDecoding.put(r.put))
                case KEELPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE:
                    return .deleteRange(RequestDecoding.deleteRange(r.delete_range))
                case KEELPB__INTERNAL_REQUEST__REQUEST_TXN:
                    return .txn(try RequestDecoding.txn(r.txn))
                case KEELPB__INTERNAL_REQUEST__REQUEST_COMPACTION:
                    return .compact(RequestDecoding.compaction(r.compaction))
                default:
                    return .noop
                }
            }
        }
    }
}
