// Reads one segment and decides where its valid data ends.
//
// Damage policy. A record that fails to decode at offset o is:
//   - the end of the records, if every byte from o on is zero: space preallocated and not yet
//     written (segments are preallocated to their full size), or an unsynced final batch whose
//     sectors never reached the disk. Nothing there was acknowledged; it is kept for appends.
//   - a torn tail, truncated by open, if this is the last segment and no valid record after o
//     claims (through its syncedUpTo field) that o had already been synced. Then nothing from o
//     on was ever acknowledged: a partial write, or sectors of the final unsynced batch that
//     never reached the disk.
//   - corruption otherwise (an earlier segment, which is always fully synced before the next one
//     exists, or damage that later synced records prove was once durable). Open throws.

struct SegmentScanResult {
    var info: (seq: UInt64, firstIndex: UInt64)
    /// Where valid data ends (aligned); the next append goes here.
    var validEnd: Int
    /// End of the segment header records (segment info + metadata + copies of state).
    var headerEnd: Int
    var maxEntryIndex: UInt64
    /// Set when the tail from `validEnd` on must be cut.
    var tornReason: String?
}

enum SegmentScanner {
    /// The snapshot mark copied into a segment's header (the newest mark when the segment was created),
    /// from the header's bytes alone; nil if the header holds none or does not decode.
    static func headerMark(prefix bytes: [UInt8], maxRecordSize: Int) -> WALSnapshotMark? {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            var mark: WALSnapshotMark?
            while offset < raw.count, case .record(let r) = RecordDecoder.decode(raw, at: offset, maxRecordSize: maxRecordSize) {
                switch r.type {
                case .segmentInfo, .metadata, .hardState: break
                case .snapshotMark: mark = RecordDecoder.snapshotMark(UnsafeRawBufferPointer(rebasing: raw[r.payload]))
                case .entry: return mark
                }
                offset = r.next
            }
            return mark
        }
    }

    static func scan(bytes: [UInt8], path: String, expectedSeq: UInt64, isLast: Bool, maxRecordSize: Int,
                     into replay: inout ReplayBuilder) throws -> SegmentScanResult {
        try bytes.withUnsafeBytes { raw in
            func corrupt(_ offset: Int, _ reason: String) -> WALError {
                .corrupt(file: path, offset: offset, reason: reason)
            }
            // The header is synced before the segment gets its final name, so it must be intact.
            guard case .record(let first) = RecordDecoder.decode(raw, at: 0, maxRecordSize: maxRecordSize),
                  first.type == .segmentInfo,
                  let info = RecordDecoder.segmentInfo(UnsafeRawBufferPointer(rebasing: raw[first.payload])) else {
                throw corrupt(0, "missing or damaged segment header")
            }
            guard info.version == RecordFormat.formatVersion else {
                throw corrupt(0, "unsupported format version \(info.version)")
            }
            guard info.seq == expectedSeq else {
                throw corrupt(0, "segment header says seq \(info.seq), expected \(expectedSeq)")
            }
            var result = SegmentScanResult(info: (info.seq, info.firstIndex), validEnd: first.next,
                                           headerEnd: first.next, maxEntryIndex: 0, tornReason: nil)
            var offset = first.next
            var inHeader = true
            while offset < raw.count {
                switch RecordDecoder.decode(raw, at: offset, maxRecordSize: maxRecordSize) {
                case .record(let r):
                    let payload = UnsafeRawBufferPointer(rebasing: raw[r.payload])
                    try replay.apply(r.type, payload, segment: info.seq, file: path, offset: offset)
                    if r.type == .entry {
                        inHeader = false
                        result.maxEntryIndex = max(result.maxEntryIndex, payload.le64(8))
                    } else if inHeader {
                        result.headerEnd = r.next
                    }
                    offset = r.next
                    result.validEnd = r.next
                case .invalid(let reason):
                    // Zeros to the end are preallocated space not yet written: where every segment's
                    // records end (no zero header decodes, so no record can hide in them).
                    if RecordDecoder.allZero(raw, from: offset) { return result }
                    guard isLast else { throw corrupt(offset, reason) }
                    if RecordDecoder.syncedDataFollows(raw, after: offset, maxRecordSize: maxRecordSize) {
                        throw corrupt(offset, reason + "; records synced after it follow")
                    }
                    result.tornReason = "torn write: " + reason
                    return result
                }
            }
            return result
        }
    }
}
