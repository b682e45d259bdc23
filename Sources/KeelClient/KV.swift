import CProtobufC
import EtcdProto

/// Options of a Range (etcdserverpb.RangeRequest), also used by `Op.get` in transactions.
public struct RangeOptions: Sendable {
    public enum SortOrder: UInt32, Sendable { case none = 0, ascend, descend }
    public enum SortTarget: UInt32, Sendable { case key = 0, version, create, mod, value }

    /// Empty: the key alone; `[0]`: every key from the key on.
    public var rangeEnd: [UInt8] = []
    public var limit: Int64 = 0
    /// 0: the newest revision.
    public var revision: Int64 = 0
    public var sortOrder: SortOrder = .none
    public var sortTarget: SortTarget = .key
    public var serializable = false
    public var keysOnly = false
    public var countOnly = false
    public var minModRevision: Int64 = 0
    public var maxModRevision: Int64 = 0
    public var minCreateRevision: Int64 = 0
    public var maxCreateRevision: Int64 = 0

    public init() {}

    /// Every key starting with the key asked for.
    public static func prefix(of key: some EtcdBytes) -> RangeOptions {
        var options = RangeOptions()
        options.rangeEnd = prefixRangeEnd(key.etcdBytes)
        return options
    }
}

public struct RangeResponse: Sendable {
    public var header: ResponseHeader
    public var kvs: [KeyValue]
    public var more: Bool
    public var count: Int64

    init(_ r: Etcdserverpb__RangeResponse) {
        header = ResponseHeader(r.header)
        kvs = Proto.elements(r.kvs, r.n_kvs).map(KeyValue.init)
        more = r.more != 0
        count = r.count
    }
}

public struct PutResponse: Sendable {
    public var header: ResponseHeader
    public var prevKV: KeyValue?

    init(_ r: Etcdserverpb__PutResponse) {
        header = ResponseHeader(r.header)
        prevKV = r.prev_kv.map { KeyValue($0.pointee) }
    }
}

public struct DeleteResponse: Sendable {
    public var header: ResponseHeader
    public var deleted: Int64
    public var prevKVs: [KeyValue]

    init(_ r: Etcdserverpb__DeleteRangeResponse) {
        header = ResponseHeader(r.header)
        deleted = r.deleted
        prevKVs = Proto.elements(r.prev_kvs, r.n_prev_kvs).map(KeyValue.init)
    }
}

/// Request messages, built in a `MessageBuilder`.
enum KVMessages {
    static func range(_ b: MessageBuilder, key: [UInt8], _ o: RangeOptions) -> UnsafeMutablePointer<Etcdserverpb__RangeRequest> {
        let m = b.message(etcdserverpb__range_request__init)
        m.pointee.key = b.binary(key)
        m.pointee.range_end = b.binary(o.rangeEnd)
        m.pointee.limit = o.limit
        m.pointee.revision = o.revision
        m.pointee.sort_order = Etcdserverpb__RangeRequest__SortOrder(rawValue: o.sortOrder.rawValue)
        m.pointee.sort_target = Etcdserverpb__RangeRequest__SortTarget(rawValue: o.sortTarget.rawValue)
        m.pointee.serializable = o.serializable ? 1 : 0
        m.pointee.keys_only = o.keysOnly ? 1 : 0
        m.pointee.count_only = o.countOnly ? 1 : 0
        m.pointee.min_mod_revision = o.minModRevision
        m.pointee.max_mod_revision = o.maxModRevision
        m.pointee.min_create_revision = o.minCreateRevision
        m.pointee.max_create_revision = o.maxCreateRevision
        return m
    }

    static func put(_ b: MessageBuilder, key: [UInt8], value: [UInt8], lease: Int64, prevKV: Bool,
                    ignoreValue: Bool = false, ignoreLease: Bool = false) -> UnsafeMutablePointer<Etcdserverpb__PutRequest> {
        let m = b.message(etcdserverpb__put_request__init)
        m.pointee.key = b.binary(key)
        m.pointee.value = b.binary(value)
        m.pointee.lease = lease
        m.pointee.prev_kv = prevKV ? 1 : 0
        m.pointee.ignore_value = ignoreValue ? 1 : 0
        m.pointee.ignore_lease = ignoreLease ? 1 : 0
        return m
    }

    static func delete(_ b: MessageBuilder, key: [UInt8], rangeEnd: [UInt8], prevKV: Bool) -> UnsafeMutablePointer<Etcdserverpb__DeleteRangeRequest> {
        let m = b.message(etcdserverpb__delete_range_request__init)
        m.pointee.key = b.binary(key)
        m.pointee.range_end = b.binary(rangeEnd)
        m.pointee.prev_kv = prevKV ? 1 : 0
        return m
    }
}

/// Packed request bytes for callers that send them themselves (e.g. a load generator that
/// encodes a request once and patches its key).
public enum EtcdRequestEncoding {
    public static func put(key: [UInt8], value: [UInt8], lease: Int64 = 0) -> [UInt8] {
        let b = MessageBuilder()
        return Proto.pack(KVMessages.put(b, key: key, value: value, lease: lease, prevKV: false))
    }

    public static func range(key: [UInt8], options: RangeOptions = RangeOptions()) -> [UInt8] {
        let b = MessageBuilder()
        return Proto.pack(KVMessages.range(b, key: key, options))
    }

    public static func txn(_ txn: Txn) -> [UInt8] {
        let b = MessageBuilder()
        return Proto.pack(TxnMessages.txn(b, txn))
    }
}

extension EtcdClient {
    /// KV.Range of `key` (and `options.rangeEnd`).
    public func get(_ key: some EtcdBytes, options: RangeOptions = RangeOptions()) async throws -> RangeResponse {
        let request = EtcdRequestEncoding.range(key: key.etcdBytes, options: options)
        let bytes = try await unary("/etcdserverpb.KV/Range", request, retry: .idempotent)
        return try Proto.read(bytes, etcdserverpb__range_response__unpack, etcdserverpb__range_response__free_unpacked, RangeResponse.init)
    }

    /// KV.Put. `lease` 0 attaches none.
    @discardableResult
    public func put(_ key: some EtcdBytes, _ value: some EtcdBytes, lease: Int64 = 0, prevKV: Bool = false) async throws -> PutResponse {
        let b = MessageBuilder()
        let request = Proto.pack(KVMessages.put(b, key: key.etcdBytes, value: value.etcdBytes, lease: lease, prevKV: prevKV))
        let bytes = try await unary("/etcdserverpb.KV/Put", request, retry: .once)
        return try Proto.read(bytes, etcdserverpb__put_response__unpack, etcdserverpb__put_response__free_unpacked, PutResponse.init)
    }

    /// KV.DeleteRange of `key` (and `rangeEnd`).
    @discardableResult
    public func delete(_ key: some EtcdBytes, rangeEnd: [UInt8] = [], prevKV: Bool = false) async throws -> DeleteResponse {
        let b = MessageBuilder()
        let request = Proto.pack(KVMessages.delete(b, key: key.etcdBytes, rangeEnd: rangeEnd, prevKV: prevKV))
        let bytes = try await unary("/etcdserverpb.KV/DeleteRange", request, retry: .once)
        return try Proto.read(bytes, etcdserverpb__delete_range_response__unpack,
                              etcdserverpb__delete_range_response__free_unpacked, DeleteResponse.init)
    }

    /// KV.Compact up to `revision`; `physical` waits until the backend dropped the data.
    @discardableResult
    public func compact(revision: Int64, physical: Bool = false) async throws -> ResponseHeader {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__compaction_request__init)
        m.pointee.revision = revision
        m.pointee.physical = physical ? 1 : 0
        let bytes = try await unary("/etcdserverpb.KV/Compact", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__compaction_response__unpack,
                              etcdserverpb__compaction_response__free_unpacked) { ResponseHeader($0.header) }
    }
}
