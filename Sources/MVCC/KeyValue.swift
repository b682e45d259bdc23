/// mvccpb.KeyValue, field for field.
public struct KeyValue: Sendable, Equatable, Hashable {
    public var key: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var value: [UInt8]
    public var lease: Int64

    public init(key: [UInt8], createRevision: Int64 = 0, modRevision: Int64 = 0, version: Int64 = 0,
                value: [UInt8] = [], lease: Int64 = 0) {
        self.key = key
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.value = value
        self.lease = lease
    }
}

/// mvccpb.Event. For a delete, `kv` holds only the key and the deleting revision as
/// `modRevision` (as etcd's watchable store reports it).
public struct Event: Sendable, Equatable {
    public enum Kind: Int, Sendable { case put = 0, delete = 1 }
    public var kind: Kind
    public var kv: KeyValue
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}
