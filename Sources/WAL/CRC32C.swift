// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the CPU's instruction where there is one
// (CCRC32C; it was ~20% of the Raft loop's CPU as table lookups), else slicing-by-8 tables.
//
// Convention matches zlib's crc32(): pass the previous result as `continuing` to checksum a
// byte stream in pieces; crc(A ++ B) == checksum(B, continuing: checksum(A)).
import CCRC32C

public enum CRC32C {
    /// Whether `checksum` uses the CPU's instruction (decided once, at first use).
    public static let usesHardware = keel_crc32c_hardware() == 1

    static let polynomial: UInt32 = 0x82F6_3B78

    /// 8 tables of 256 entries, flattened: table k at [k*256 ..< (k+1)*256].
    /// Table 0 is the classic byte-at-a-time table; table k advances a byte through k more zero bytes.
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 {
                let prev = t[(k - 1) * 256 + i]
                t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
            }
        }
        return t
    }()

    /// Checksum of `bytes`, continuing from a previous checksum (0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard usesHardware else { return tableChecksum(bytes, continuing: previous) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        return ~keel_crc32c_update(~previous, base, bytes.count)
    }

    /// The slicing-by-8 table version: the fallback, and the cross-check of the instruction in tests.
    static func tableChecksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        var crc = ~previous
        tables.withUnsafeBufferPointer { t in
            var p = 0
            let n = bytes.count
            // Main loop: 8 bytes per step, one lookup per byte in 8 independent tables.
            while n - p >= 8 {
                let lo = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self)) ^ crc
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: p + 4, as: UInt32.self))
                crc = t[7 * 256 + Int(lo & 0xFF)]
                    ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)]
                    ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)]
                    ^ t[Int(hi >> 24)]
                p += 8
            }
            while p < n {
                crc = (crc >> 8) ^ t[Int((crc ^ UInt32(bytes[p])) & 0xFF)]
                p += 1
            }
        }
        return ~crc
    }

    public static func checksum(_ bytes: [UInt8], continuing previous: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: previous) }
    }

    /// Bit-at-a-time reference implementation; only for tests that cross-check the fast path.
    static func referenceChecksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
        }
        return ~crc
    }
}
