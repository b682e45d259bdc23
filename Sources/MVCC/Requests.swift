/// etcdserverpb.RangeRequest.
public struct RangeRequest: Sendable, Equatable {
    public enum SortOrder: Int, Sendable { case none = 0, ascend = 1, descend = 2 }
    public enum SortTarget: Int, Sendable { case key = 0, version = 1, create = 2, mod = 3, value = 4 }

    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var limit: Int64
    public var revision: Int64
    public var sortOrder: SortOrder
    public var sortTarget: SortTarget
    public var serializable: Bool
    public var keysOnly: Bool
    public var countOnly: Bool
    public var minModRevision: Int64
    public var maxModRevision: Int64
    public var minCreateRevision: Int64
    public var maxCreateRevision: Int64

    public init(key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0,
                sortOrder: SortOrder = .none, sortTarget: SortTarget = .key, serializable: Bool = false,
                keysOnly: Bool = false, countOnly: Bool = false, minModRevision: Int64 = 0,
                maxModRevision: Int64 = 0, minCreateRevision: Int64 = 0, maxCreateRevision: Int64 = 0) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.serializable = serializable
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.minModRevision = minModRevision
        self.maxModRevision = maxModRevision
        self.minCreateRevision = minCreateRevision
        self.maxCreateRevision = maxCreateRevision
    }
}

/// etcdserverpb.RangeResponse without the header; `revision` is the header revision to report.
public struct RangeResponse: Sendable, Equatable {
    public var kvs: [KeyValue]
    public var more: Bool
    public var count: Int64
    public var revision: Int64

    public init(kvs: [KeyValue] = [], more: Bool = false, count: Int64 = 0, revision: Int64 = 0) {
        self.kvs = kvs
        self.more = more
        self.count = count
        self.revision = revision
    }
}

/// etcdserverpb.PutRequest.
public struct PutRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var lease: Int64
    public var prevKV: Bool
    public var ignoreValue: Bool
    public var ignoreLease: Bool

    public init(key: [UInt8], value: [UInt8] = [], lease: Int64 = 0, prevKV: Bool = false,
                ignoreValue: Bool = false, ignoreLease: Bool = false) {
        self.key = key
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }
}

public struct PutResponse: Sendable, Equatable {
    public var prevKV: KeyValue?
    public init(prevKV: KeyValue? = nil) { self.prevKV = prevKV }
}

/// etcdserverpb.DeleteRangeRequest.
public struct DeleteRangeRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var prevKV: Bool

    public init(key: [UInt8], rangeEnd: [UInt8] = [], prevKV: Bool = false) {
        self.key = key
        self.rangeEnd = rangeEnd
        self.prevKV = prevKV
    }
}

public struct DeleteRangeResponse: Sendable, Equatable {
    public var deleted: Int64
    public var prevKVs: [KeyValue]
    public init(deleted: Int64 = 0, prevKVs: [KeyValue] = []) {
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
}

/// etcdserverpb.Compare. `target` selects which of the value fields is compared.
public struct Compare: Sendable, Equatable {
    public enum Result: Int, Sendable { case equal = 0, greater = 1, less = 2, notEqual = 3 }
    public enum Target: Int, Sendable { case version = 0, create = 1, mod = 2, value = 3, lease = 4 }

    public var result: Result
    public var target: Target
    public var key: [UInt8]
    public var rangeEnd: [UInt8]
    public var version: Int64
    public var createRevision: Int64
    public var modRevision: Int64
    public var value: [UInt8]
    public var lease: Int64

    public init(result: Result, target: Target, key: [UInt8], rangeEnd: [UInt8] = [], version: Int64 = 0,
                createRevision: Int64 = 0, modRevision: Int64 = 0, value: [UInt8] = [], lease: Int64 = 0) {
        self.result = result
        self.target = target
        self.key = key
        self.rangeEnd = rangeEnd
        self.version = version
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.value = value
        self.lease = lease
    }
}

/// etcdserverpb.RequestOp. `.none` is the empty oneof (etcd rejects it with "key not found").
public indirect enum RequestOp: Sendable, Equatable {
    case range(RangeRequest)
    case put(PutRequest)
    case deleteRange(DeleteRangeRequest)
    case txn(TxnRequest)
    case none
}

/// etcdserverpb.ResponseOp.
public indirect enum ResponseOp: Sendable, Equatable {
    case range(RangeResponse)
    case put(PutResponse)
    case deleteRange(DeleteRangeResponse)
    case txn(TxnResponse)
}

/// etcdserverpb.TxnRequest.
public struct TxnRequest: Sendable, Equatable {
    public var compare: [Compare]
    public var success: [RequestOp]
    public var failure: [RequestOp]

    public init(compare: [Compare] = [], success: [RequestOp] = [], failure: [RequestOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }
}

public struct TxnResponse: Sendable, Equatable {
    /// A read-only txn's answer and the revision it read at (the header revision).
    public struct WithRevision: Sendable, Equatable {
        public var response: TxnResponse
        public var revision: Int64
    }

    public var succeeded: Bool
    public var responses: [ResponseOp]
    public init(succeeded: Bool = false, responses: [ResponseOp] = []) {
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// etcdserverpb.CompactionRequest.
public struct CompactionRequest: Sendable, Equatable {
    public var revision: Int64
    public var physical: Bool
    public init(revision: Int64, physical: Bool = false) {
        self.revision = revision
        self.physical = physical
    }
}
