#if canImport(Glibc)
import Glibc
#endif

/// A sorted list of keys with an inline 8-byte "head" per key: the big-endian bytes that follow
/// the prefix all keys share, zero-padded. A binary search compares heads in one contiguous array
/// and reads a key's own heap bytes only when heads tie; probing the keys themselves took a
/// cache miss per probe (each key is its own allocation), the largest single cost of a Put.
///
/// Order of heads agrees with key order: if head(a) < head(b) then a < b (a padding zero where
/// the other key has a byte means the shorter key is a prefix of the longer one).
///
/// Beside each head, the length of the key after the prefix (capped at 9): when two heads tie and both
/// lengths are at most 8, the heads hold every byte after the prefix, so the lengths alone decide
/// (the shorter key is the prefix of the other, or they are equal) and the key's own bytes are not
/// read. For short keys the search then reads no key at all: the read of the matching key was ~40%
/// of a search's time, a cache miss per Put.
struct SortedKeys: Sendable {
    private(set) var keys: [[UInt8]] = []
    /// Length of a prefix every key shares (not necessarily the longest such prefix).
    private var prefixLength = 0
    private var heads: [UInt64] = []
    private var tails: [UInt8] = []

    init() {}

    init(_ keys: [[UInt8]]) {
        self.keys = keys
        rebuildHeads()
    }

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }
    subscript(i: Int) -> [UInt8] { keys[i] }
    var last: [UInt8]? { keys.last }

    /// The first index whose key is ≥ `key`.
    func lowerBound(_ key: [UInt8]) -> Int { search(key).index }

    /// The first index whose key is ≥ `key`, and whether that key is `key`.
    func search(_ key: [UInt8]) -> (index: Int, found: Bool) {
        guard !keys.isEmpty else { return (0, false) }
        return key.withUnsafeBufferPointer { k in
            if prefixLength > 0 {
                let n = min(k.count, prefixLength)
                let c = n == 0 ? 0 : keys[0].withUnsafeBufferPointer { memcmp(k.baseAddress!, $0.baseAddress!, n) }
                if c < 0 || (c == 0 && k.count < prefixLength) { return (0, false) }  // before the shared prefix
                if c > 0 { return (keys.count, false) }  // after every key with that prefix
            }
            // `key` has the shared prefix from here on.
            let kh = Self.head(k, from: prefixLength)
            let kt = Self.tail(k.count, prefixLength)
            return heads.withUnsafeBufferPointer { h in
                tails.withUnsafeBufferPointer { t in
                    keys.withUnsafeBufferPointer { ks in
                        var lo = 0
                        var hi = h.count
                        while lo < hi {
                            let mid = (lo + hi) / 2
                            let hm = h[mid]
                            let less: Bool
                            if hm != kh {
                                less = hm < kh
                            } else if t[mid] <= 8 && kt <= 8 {
                                less = t[mid] < kt
                            } else {
                                less = keyLess(ks[mid], key)
                            }
                            if less { lo = mid + 1 } else { hi = mid }
                        }
                        guard lo < h.count, h[lo] == kh else { return (lo, false) }
                        if t[lo] <= 8 && kt <= 8 { return (lo, t[lo] == kt) }
                        return (lo, ks[lo] == key)
                    }
                }
            }
        }
    }

    /// Inserts `key` at `i`, which must keep the list sorted.
    mutating func insert(_ key: [UInt8], at i: Int) {
        keys.insert(key, at: i)
        if keys.count > 1 && sharesPrefix(key, with: keys[i == 0 ? 1 : 0]) {
            heads.insert(key.withUnsafeBufferPointer { Self.head($0, from: prefixLength) }, at: i)
            tails.insert(Self.tail(key.count, prefixLength), at: i)
        } else {
            rebuildHeads()
        }
    }

    /// Replaces the key at `i` with `key`, which must keep the list sorted.
    mutating func replace(at i: Int, with key: [UInt8]) {
        keys[i] = key
        if keys.count > 1 && sharesPrefix(key, with: keys[i == 0 ? 1 : 0]) {
            heads[i] = key.withUnsafeBufferPointer { Self.head($0, from: prefixLength) }
            tails[i] = Self.tail(key.count, prefixLength)
        } else {
            rebuildHeads()
        }
    }

    mutating func append(_ key: [UInt8]) { insert(key, at: keys.count) }

    /// Keys from `start` on, moved into a new list; this list keeps the rest (both sized to fit:
    /// a truncated array would keep its grown capacity).
    mutating func splitOff(at start: Int) -> SortedKeys {
        let upper = SortedKeys(Array(keys[start...]))
        keys = Array(keys[..<start])
        rebuildHeads()
        return upper
    }

    mutating func reserveCapacity(_ n: Int) {
        keys.reserveCapacity(n)
        heads.reserveCapacity(n)
        tails.reserveCapacity(n)
    }

    /// Checks the invariants (tests).
    func validate() {
        precondition(heads.count == keys.count && tails.count == keys.count, "one head and tail per key")
        for (i, key) in keys.enumerated() {
            precondition(sharesPrefix(key, with: keys[0]), "every key has the shared prefix")
            precondition(heads[i] == key.withUnsafeBufferPointer { Self.head($0, from: prefixLength) }, "head")
            precondition(tails[i] == Self.tail(key.count, prefixLength), "tail")
            if i > 0 { precondition(keyLess(keys[i - 1], key), "sorted") }
        }
    }

    /// True if `key` starts with the shared prefix, read from `other`, a key already in the list.
    private func sharesPrefix(_ key: [UInt8], with other: [UInt8]) -> Bool {
        guard prefixLength > 0 else { return true }
        guard key.count >= prefixLength else { return false }
        return key.withUnsafeBufferPointer { k in
            other.withUnsafeBufferPointer { o in memcmp(k.baseAddress!, o.baseAddress!, prefixLength) == 0 }
        }
    }

    /// The shared prefix of a sorted list is that of its first and last keys.
    private mutating func rebuildHeads() {
        heads.removeAll(keepingCapacity: true)
        tails.removeAll(keepingCapacity: true)
        guard let first = keys.first, let last = keys.last else { prefixLength = 0; return }
        var n = 0
        let limit = min(first.count, last.count)
        while n < limit && first[n] == last[n] { n += 1 }
        prefixLength = n
        heads.reserveCapacity(keys.count)
        tails.reserveCapacity(keys.count)
        for key in keys {
            heads.append(key.withUnsafeBufferPointer { Self.head($0, from: n) })
            tails.append(Self.tail(key.count, n))
        }
    }

    /// The key's length after the prefix, capped at 9 ("longer than a head holds").
    @inline(__always)
    private static func tail(_ count: Int, _ prefix: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: min(count - prefix, 9))
    }

    @inline(__always)
    private static func head(_ p: UnsafeBufferPointer<UInt8>, from offset: Int) -> UInt64 {
        let n = min(8, max(0, p.count - offset))
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(p[offset + i]) << UInt64(56 - 8 * i) }
        return v
    }
}
