// Decoding one record at an offset, and the payload parsers. Pure functions over bytes.

struct DecodedRecord {
    var type: RecordType
    var offset: Int
    /// Range of the payload within the segment bytes.
    var payload: Range<Int>
    var syncedUpTo: Int
    /// Offset of the next record (after padding).
    var next: Int
}

enum DecodeResult {
    case record(DecodedRecord)
    case invalid(reason: String)
}

enum RecordDecoder {
    /// Checks the record at `offset` (cheap header checks first: this also runs on every
    /// aligned offset when open hunts for valid records behind a damaged one).
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, maxRecordSize: Int) -> DecodeResult {
        precondition(offset % RecordFormat.alignment == 0)
        guard offset + RecordFormat.headerSize <= bytes.count else {
            return .invalid(reason: "partial record header (\(bytes.count - offset) bytes before end of file)")
        }
        let length = Int(bytes.le32(offset))
        let synced = Int(bytes.le32(offset + 4))
        let rawType = bytes[offset + 8]
        if rawType == 0 && length == 0 && bytes.le32(offset + 12) == 0 {
            return .invalid(reason: "zeroed record header")
        }
        guard bytes[offset + 9] == 0, bytes[offset + 10] == 0, bytes[offset + 11] == 0,
              let type = RecordType(rawValue: rawType) else {
            return .invalid(reason: "bad record type \(rawType)")
        }
        guard length <= maxRecordSize else {
            return .invalid(reason: "bad length \(length) (limit \(maxRecordSize))")
        }
        guard synced <= offset, synced % RecordFormat.alignment == 0 else {
            return .invalid(reason: "bad sync mark \(synced)")
        }
        let payloadStart = offset + RecordFormat.headerSize
        let next = offset + RecordFormat.paddedSize(payload: length)
        guard next <= bytes.count else {
            return .invalid(reason: "partial record: length \(length) runs past end of file")
        }
        // Padding is outside the CRC, so insist it is zero: a record counts only when every
        // byte we wrote for it is back.
        for i in (payloadStart + length)..<next where bytes[i] != 0 {
            return .invalid(reason: "nonzero padding at \(i)")
        }
        let head = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 12)]))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<(payloadStart + length)]),
                                  continuing: head)
        guard crc == bytes.le32(offset + 12) else {
            return .invalid(reason: "CRC mismatch")
        }
        return .record(DecodedRecord(type: type, offset: offset, payload: payloadStart..<(payloadStart + length),
                                     syncedUpTo: synced, next: next))
    }

    /// True when some record after `offset` decodes cleanly and says bytes past `offset` had
    /// already been synced when it was written. Then the damage at `offset` hit synced data.
    static func syncedDataFollows(_ bytes: UnsafeRawBufferPointer, after offset: Int, maxRecordSize: Int) -> Bool {
        var probe = offset + RecordFormat.alignment
        while probe + RecordFormat.headerSize <= bytes.count {
            if case .record(let r) = decode(bytes, at: probe, maxRecordSize: maxRecordSize), r.syncedUpTo > offset {
                return true
            }
            probe += RecordFormat.alignment
        }
        return false
    }

    /// Eight bytes at a time: open runs this over the unwritten rest of a preallocated segment.
    static func allZero(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var i = offset
        while i + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < bytes.count {
            if bytes[i] != 0 { return false }
            i += 1
        }
        return true
    }

    // Payload parsers; nil means a wrong size (corruption of a record whose CRC was fine
    // can only come from a bug or a foreign file, still reported as corrupt).

    static func entry(_ p: UnsafeRawBufferPointer) -> WALEntry? {
        guard p.count >= RecordFormat.entryFixedSize else { return nil }
        return WALEntry(term: p.le64(0), index: p.le64(8), kind: p[16],
                        data: [UInt8](UnsafeRawBufferPointer(rebasing: p[RecordFormat.entryFixedSize...])))
    }

    static func hardState(_ p: UnsafeRawBufferPointer) -> WALHardState? {
        guard p.count == RecordFormat.hardStateSize else { return nil }
        return WALHardState(term: p.le64(0), vote: p.le64(8), commit: p.le64(16))
    }

    static func snapshotMark(_ p: UnsafeRawBufferPointer) -> WALSnapshotMark? {
        guard p.count == RecordFormat.snapshotMarkSize else { return nil }
        return WALSnapshotMark(index: p.le64(0), term: p.le64(8))
    }

    static func segmentInfo(_ p: UnsafeRawBufferPointer) -> (seq: UInt64, firstIndex: UInt64, version: UInt32)? {
        guard p.count == RecordFormat.segmentInfoSize else { return nil }
        return (p.le64(0), p.le64(8), p.le32(16))
    }
}
