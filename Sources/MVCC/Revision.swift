/// A (main, sub) revision: `main` is the store revision of a Put/DeleteRange/Txn, `sub` the
/// position of the change inside it.
public struct Revision: Sendable, Hashable, Comparable {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64) {
        self.main = main
        self.sub = sub
    }

    public static func < (a: Revision, b: Revision) -> Bool {
        a.main != b.main ? a.main < b.main : a.sub < b.sub
    }
}

/// Backend keys of the `key` bucket, in etcd's layout: 8 bytes big-endian main, '_', 8 bytes
/// big-endian sub, and a trailing 't' for tombstones. Big-endian makes LMDB's byte order equal to
/// revision order (revisions are never negative).
enum RevisionKey {
    static let length = 17
    static let tombstoneLength = 18
    static let tombstoneMark: UInt8 = UInt8(ascii: "t")

    static func encode(_ rev: Revision, tombstone: Bool = false) -> [UInt8] {
        precondition(rev.main >= 0 && rev.sub >= 0, "revisions are non-negative")
        var out = [UInt8](repeating: 0, count: tombstone ? tombstoneLength : length)
        writeBigEndian(UInt64(rev.main), into: &out, at: 0)
        out[8] = UInt8(ascii: "_")
        writeBigEndian(UInt64(rev.sub), into: &out, at: 9)
        if tombstone { out[17] = tombstoneMark }
        return out
    }

    /// Decodes a stored key; nil if it is not a revision key.
    static func decode(_ bytes: UnsafeRawBufferPointer) -> (Revision, tombstone: Bool)? {
        guard bytes.count == length || bytes.count == tombstoneLength else { return nil }
        let main = Int64(bitPattern: readBigEndian(bytes, at: 0))
        let sub = Int64(bitPattern: readBigEndian(bytes, at: 9))
        let tomb = bytes.count == tombstoneLength && bytes[17] == tombstoneMark
        return (Revision(main: main, sub: sub), tomb)
    }
}

@inline(__always)
func writeBigEndian(_ v: UInt64, into out: inout [UInt8], at offset: Int) {
    for i in 0..<8 { out[offset + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(i))) }
}

@inline(__always)
func readBigEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<8 { v = (v << 8) | UInt64(bytes[offset + i]) }
    return v
}

func bigEndianBytes(_ v: UInt64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 8)
    writeBigEndian(v, into: &out, at: 0)
    return out
}
