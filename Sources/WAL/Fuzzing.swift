// Entry points for the fuzzers (Sources/KeelFuzz, fuzz/README.md): the WAL and snapshot readers on
// arbitrary bytes must throw or return, never trap, and must not read past what they were given.

public enum WALFuzzing {
    /// Reads `bytes` as a segment file the way `WAL.open` does (header mark, then a full scan as the
    /// last segment, where torn tails are allowed, and as an earlier one, where they are not).
    public static func scanSegment(_ bytes: [UInt8]) {
        let maxRecordSize = 1 << 20
        _ = SegmentScanner.headerMark(prefix: Array(bytes.prefix(64 << 10)), maxRecordSize: maxRecordSize)
        // The seq the header claims, so segments other than the first get past the seq check too.
        let seq: UInt64 = bytes.withUnsafeBytes { raw in
            guard case .record(let first) = RecordDecoder.decode(raw, at: 0, maxRecordSize: maxRecordSize),
                  let info = RecordDecoder.segmentInfo(UnsafeRawBufferPointer(rebasing: raw[first.payload])) else { return 0 }
            return info.seq
        }
        for isLast in [true, false] {
            var builder = ReplayBuilder()
            guard let r = try? SegmentScanner.scan(bytes: bytes, path: "fuzz.wal", expectedSeq: seq, isLast: isLast,
                                                  maxRecordSize: maxRecordSize, into: &builder) else { continue }
            precondition(r.validEnd <= bytes.count && r.headerEnd <= r.validEnd, "scan result out of bounds")
            _ = try? builder.finish(repair: nil)
        }
    }

    /// Reads `bytes` as the snapshot file for (index 1, term 1).
    public static func parseSnapshot(_ bytes: [UInt8]) {
        let name = SnapshotFile.fileName(index: 1, term: 1)
        if case .success(let s) = SnapshotFile.parse(bytes: bytes, path: name, name: name, maxBytes: 1 << 20) {
            precondition(s.data.count + SnapshotFile.headerSize == bytes.count)
        }
    }
}
