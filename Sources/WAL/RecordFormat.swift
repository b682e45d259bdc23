// On-disk record framing. Every record is 8-byte aligned:
//
//   0  u32 payload length (LE)
//   4  u32 syncedUpTo: every byte of this segment before this offset was fdatasync'ed before
//      this record was written. Lets open tell a torn unsynced tail from damage to synced data.
//   8  u8  type
//   9  u8[3] zero
//  12  u32 CRC32C over bytes 0..<12 and the payload (so length and type are protected too)
//  16  payload, then zero padding to the next multiple of 8
//
// All integers little-endian.

enum RecordType: UInt8 {
    /// First record of every segment: u64 seq, u64 firstIndex, u32 format version.
    case segmentInfo = 1
    /// Opaque caller metadata, repeated at the start of every segment.
    case metadata = 2
    /// u64 term, u64 vote, u64 commit.
    case hardState = 3
    /// u64 index, u64 term.
    case snapshotMark = 4
    /// u64 term, u64 index, u8 kind, data.
    case entry = 5
}

enum RecordFormat {
    static let headerSize = 16
    static let alignment = 8
    static let formatVersion: UInt32 = 1
    static let entryFixedSize = 17
    static let hardStateSize = 24
    static let snapshotMarkSize = 16
    static let segmentInfoSize = 20

    static func paddedSize(payload: Int) -> Int {
        (headerSize + payload + alignment - 1) & ~(alignment - 1)
    }
}

/// Appends encoded records to a byte buffer. Encodes straight into the buffer: no temporaries.
struct RecordEncoder {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Writes a record whose payload is produced by `body`; `payloadSize` must be exact.
    mutating func append(_ type: RecordType, syncedUpTo: Int, payloadSize: Int, _ body: (inout [UInt8]) -> Void) {
        precondition(syncedUpTo >= 0 && syncedUpTo <= Int(UInt32.max))
        let start = bytes.count
        put32(UInt32(payloadSize))
        put32(UInt32(syncedUpTo))
        bytes.append(type.rawValue)
        bytes.append(contentsOf: [0, 0, 0] as [UInt8])
        put32(0)  // CRC placeholder
        body(&bytes)
        precondition(bytes.count - start == RecordFormat.headerSize + payloadSize, "payload size mismatch")
        let padded = RecordFormat.paddedSize(payload: payloadSize)
        for _ in 0..<(padded - RecordFormat.headerSize - payloadSize) { bytes.append(0) }
        let crc = bytes.withUnsafeBytes { raw -> UInt32 in
            let head = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[start..<(start + 12)]))
            let payloadStart = start + RecordFormat.headerSize
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[payloadStart..<(payloadStart + payloadSize)]),
                                   continuing: head)
        }
        for i in 0..<4 { bytes[start + 12 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    private mutating func put32(_ v: UInt32) {
        Swift.withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendEntry(_ e: WALEntry, syncedUpTo: Int) {
        append(.entry, syncedUpTo: syncedUpTo, payloadSize: RecordFormat.entryFixedSize + e.data.count) { b in
            b.put64(e.term); b.put64(e.index); b.append(e.kind); b.append(contentsOf: e.data)
        }
    }

    mutating func appendHardState(_ h: WALHardState, syncedUpTo: Int) {
        append(.hardState, syncedUpTo: syncedUpTo, payloadSize: RecordFormat.hardStateSize) { b in
            b.put64(h.term); b.put64(h.vote); b.put64(h.commit)
        }
    }

    mutating func appendSnapshotMark(_ m: WALSnapshotMark, syncedUpTo: Int) {
        append(.snapshotMark, syncedUpTo: syncedUpTo, payloadSize: RecordFormat.snapshotMarkSize) { b in
            b.put64(m.index); b.put64(m.term)
        }
    }

    mutating func appendMetadata(_ m: [UInt8], syncedUpTo: Int) {
        append(.metadata, syncedUpTo: syncedUpTo, payloadSize: m.count) { b in b.append(contentsOf: m) }
    }

    mutating func appendSegmentInfo(seq: UInt64, firstIndex: UInt64, syncedUpTo: Int) {
        append(.segmentInfo, syncedUpTo: syncedUpTo, payloadSize: RecordFormat.segmentInfoSize) { b in
            b.put64(seq); b.put64(firstIndex)
            Swift.withUnsafeBytes(of: RecordFormat.formatVersion.littleEndian) { b.append(contentsOf: $0) }
        }
    }
}

extension [UInt8] {
    mutating func put64(_ v: UInt64) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func le64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    func le32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
}
