import CProtobufC
import EtcdProto

/// Keys and values are bytes; strings and byte arrays both convert.
public protocol EtcdBytes: Sendable {
    var etcdBytes: [UInt8] { get }
}

extension String: EtcdBytes {
    public var etcdBytes: [UInt8] { Array(utf8) }
}

extension Substring: EtcdBytes {
    public var etcdBytes: [UInt8] { Array(utf8) }
}

extension Array: EtcdBytes where Element == UInt8 {
    public var etcdBytes: [UInt8] { self }
}

/// etcdserverpb.ResponseHeader.
public struct ResponseHeader: Sendable, Equatable {
    public var clusterID: UInt64
    public var memberID: UInt64
    public var revision: Int64
    public var raftTerm: UInt64

    init(_ header: UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?) {
        let h = header?.pointee
        clusterID = h?.cluster_id ?? 0
        memberID = h?.member_id ?? 0
        revision = h?.revision ?? 0
        raftTerm = h?.raft_term ?? 0
    }
}

/// mvccpb.KeyValue.
public struct KeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
    public var version: Int64
    public var lease: Int64

    public var keyString: String { String(decoding: key, as: UTF8.self) }
    public var valueString: String { String(decoding: value, as: UTF8.self) }

    init(_ kv: Mvccpb__KeyValue) {
        key = Proto.bytes(kv.key)
        value = Proto.bytes(kv.value)
        createRevision = kv.create_revision
        modRevision = kv.mod_revision
        version = kv.version
        lease = kv.lease
    }
}

/// The end of the range of all keys that start with `prefix` (etcd's `GetPrefixRangeEnd`):
/// the prefix with its last byte below 0xff incremented; `[0]` (every key from `prefix` on)
/// when every byte is 0xff.
public func prefixRangeEnd(_ prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
        if last < 0xff {
            end[end.count - 1] = last + 1
            return end
        }
        end.removeLast()
    }
    return [0]
}
