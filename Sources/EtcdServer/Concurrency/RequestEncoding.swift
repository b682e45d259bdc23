import MVCC

/// MVCC's request values → etcdserverpb protobuf bytes, for requests the server makes itself (the lock
/// and election services propose txns as etcd's own v3lock/v3election do through a client). Only what
/// those requests use is written; defaults are omitted as proto3 does, except a oneof member.
enum RequestEncoding {
    static func txn(_ t: TxnRequest) -> [UInt8] {
        var w = ProtoWriter()
        for c in t.compare { w.message(1) { compare(c, &$0) } }
        for op in t.success { w.message(2) { requestOp(op, &$0) } }
        for op in t.failure { w.message(3) { requestOp(op, &$0) } }
        return w.bytes
    }

    static func deleteRange(_ d: DeleteRangeRequest) -> [UInt8] {
        var w = ProtoWriter()
        deleteRange(d, &w)
        return w.bytes
    }

    private static func compare(_ c: Compare, _ w: inout ProtoWriter) {
        w.varint(1, UInt64(c.result.rawValue))
        w.varint(2, UInt64(c.target.rawValue))
        w.bytes(3, c.key)
        switch c.target {  // the oneof member is written even when zero
        case .version: w.varint(4, UInt64(bitPattern: c.version), always: true)
        case .create: w.varint(5, UInt64(bitPattern: c.createRevision), always: true)
        case .mod: w.varint(6, UInt64(bitPattern: c.modRevision), always: true)
        case .value: w.bytes(7, c.value, always: true)
        case .lease: w.varint(8, UInt64(bitPattern: c.lease), always: true)
        }
        w.bytes(64, c.rangeEnd)
    }

    private static func requestOp(_ op: RequestOp, _ w: inout ProtoWriter) {
        switch op {
        case .range(let r): w.message(1) { range(r, &$0) }
        case .put(let p): w.message(2) { put(p, &$0) }
        case .deleteRange(let d): w.message(3) { deleteRange(d, &$0) }
        case .txn(let t): w.message(4) { $0.raw(txn(t)) }
        case .none: break
        }
    }

    private static func range(_ r: RangeRequest, _ w: inout ProtoWriter) {
        w.bytes(1, r.key)
        w.bytes(2, r.rangeEnd)
        w.varint(3, UInt64(bitPattern: r.limit))
        w.varint(4, UInt64(bitPattern: r.revision))
        w.varint(5, UInt64(r.sortOrder.rawValue))
        w.varint(6, UInt64(r.sortTarget.rawValue))
        w.varint(7, r.serializable ? 1 : 0)
        w.varint(8, r.keysOnly ? 1 : 0)
        w.varint(9, r.countOnly ? 1 : 0)
        w.varint(10, UInt64(bitPattern: r.minModRevision))
        w.varint(11, UInt64(bitPattern: r.maxModRevision))
        w.varint(12, UInt64(bitPattern: r.minCreateRevision))
        w.varint(13, UInt64(bitPattern: r.maxCreateRevision))
    }

    private static func put(_ p: PutRequest, _ w: inout ProtoWriter) {
        w.bytes(1, p.key)
        w.bytes(2, p.value)
        w.varint(3, UInt64(bitPattern: p.lease))
        w.varint(4, p.prevKV ? 1 : 0)
        w.varint(5, p.ignoreValue ? 1 : 0)
        w.varint(6, p.ignoreLease ? 1 : 0)
    }

    private static func deleteRange(_ d: DeleteRangeRequest, _ w: inout ProtoWriter) {
        w.bytes(1, d.key)
        w.bytes(2, d.rangeEnd)
        w.varint(3, d.prevKV ? 1 : 0)
    }
}

/// The protobuf wire format, written forward into one array (nested messages are length-prefixed
/// after they are written).
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64, always: Bool = false) {
        guard value != 0 || always else { return }
        tag(field, wireType: 0)
        raw(value)
    }

    mutating func bytes(_ field: Int, _ value: [UInt8], always: Bool = false) {
        guard !value.isEmpty || always else { return }
        tag(field, wireType: 2)
        raw(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func message(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        body(&inner)
        tag(field, wireType: 2)
        raw(UInt64(inner.bytes.count))
        bytes.append(contentsOf: inner.bytes)
    }

    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }

    private mutating func tag(_ field: Int, wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }

    private mutating func raw(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
}
