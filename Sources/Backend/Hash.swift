/// A running CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum etcd's Hash
/// and HashKV use (Go's `crc32.New(crc32.MakeTable(crc32.Castagnoli))`). Feeding bytes in any
/// split gives the same value. Its own copy because Backend cannot depend on WAL; slicing-by-8
/// because a hash reads the whole database.
public struct CRC32CHasher: Sendable {
    /// Table t at [t*256 ..< (t+1)*256]: t = 0 is the byte table, t > 0 skips t more zero bytes.
    private static let lookup: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 2048)
        for n in 0..<256 {
            var r = UInt32(n)
            for _ in 0..<8 { r = r & 1 == 1 ? 0x82F6_3B78 ^ (r >> 1) : r >> 1 }
            table[n] = r
        }
        for n in 0..<256 {
            var r = table[n]
            for t in 1..<8 {
                r = table[Int(r & 0xFF)] ^ (r >> 8)
                table[t * 256 + n] = r
            }
        }
        return table
    }()

    private var state: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// The checksum of everything fed so far.
    public var value: UInt32 { ~state }

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard !data.isEmpty else { return }
        var crc = state
        Self.lookup.withUnsafeBufferPointer { t in
            var i = 0
            let count = data.count
            while i + 8 <= count {
                let a = crc ^ UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                let b = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                crc = t[1792 + Int(a & 0xFF)] ^ t[1536 + Int((a >> 8) & 0xFF)]
                    ^ t[1280 + Int((a >> 16) & 0xFF)] ^ t[1024 + Int(a >> 24)]
                    ^ t[768 + Int(b & 0xFF)] ^ t[512 + Int((b >> 8) & 0xFF)]
                    ^ t[256 + Int((b >> 16) & 0xFF)] ^ t[Int(b >> 24)]
                i += 8
            }
            for j in i..<count {
                crc = t[Int((crc ^ UInt32(data[j])) & 0xFF)] ^ (crc >> 8)
            }
        }
        state = crc
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }
}

/// A record, or a whole bucket, that `hash(ignoring:)` leaves out (etcd's backend.IgnoreKey).
public struct HashIgnore: Hashable, Sendable {
    public var bucket: Bucket
    /// nil: every record of the bucket (its name is still hashed).
    public var key: [UInt8]?

    public init(bucket: Bucket, key: [UInt8]?) {
        self.bucket = bucket
        self.key = key
    }
}

extension BackendReading {
    /// etcd's backend.Hash over this snapshot: CRC-32C of, for each bucket in name order (bbolt's
    /// root cursor order), the bucket name, then each record's key and value in key order,
    /// skipping `ignoring`. Deterministic for equal contents; not equal to etcd's number, whose
    /// bucket set and value encodings differ from ours.
    public func hash(ignoring: Set<HashIgnore> = []) throws -> UInt32 {
        var h = CRC32CHasher()
        let ordered = Bucket.allCases.sorted { a, b in Array(a.name.utf8).lexicographicallyPrecedes(b.name.utf8) }
        for bucket in ordered {
            h.update(Array(bucket.name.utf8))
            if ignoring.contains(HashIgnore(bucket: bucket, key: nil)) { continue }
            let skipped = Set(ignoring.compactMap { $0.bucket == bucket ? $0.key : nil })
            try scan(bucket, from: []) { k, v in
                if skipped.isEmpty || !skipped.contains(Array(k)) {
                    h.update(k)
                    h.update(v)
                }
                return true
            }
        }
        return h.value
    }
}

extension Backend {
    /// `hash(ignoring:)` over a fresh snapshot of the committed state.
    public func hash(ignoring: Set<HashIgnore> = []) throws -> UInt32 {
        try read { tx in try tx.hash(ignoring: ignoring) }
    }
}
