/// Which keys a request addresses, after etcd's conventions for `range_end`:
/// empty → the single `key`; "\0" → every key ≥ `key`; otherwise [key, range_end).
/// (key "\0" with range_end "\0" is therefore every key.)
public enum KeySpan: Sendable {
    case single([UInt8])
    case atLeast([UInt8])
    case between([UInt8], [UInt8])

    public init(key: [UInt8], rangeEnd: [UInt8]) {
        if rangeEnd.isEmpty {
            self = .single(key)
        } else if rangeEnd.count == 1 && rangeEnd[0] == 0 {
            self = .atLeast(key)
        } else {
            self = .between(key, rangeEnd)
        }
    }

    public func contains(_ k: [UInt8]) -> Bool {
        switch self {
        case .single(let key): return k == key
        case .atLeast(let key): return !k.lexicographicallyPrecedes(key)
        case .between(let key, let end): return !k.lexicographicallyPrecedes(key) && k.lexicographicallyPrecedes(end)
        }
    }
}

/// The smallest key greater than every key with `prefix` (etcd's GetPrefixRangeEnd): drop trailing
/// 0xff bytes and increment the last byte; "\0" (all keys) when the prefix is all 0xff or empty.
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
