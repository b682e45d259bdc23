// Segment file names: "<seq>-<firstIndex>.wal", both as 16 lowercase hex digits, so a plain
// directory listing sorts in log order and shows where each segment starts.
// New segments are written as "<name>.tmp" and renamed once their header is synced.

struct SegmentName: Equatable, Comparable {
    var seq: UInt64
    var firstIndex: UInt64

    static let suffix = ".wal"
    static let tempSuffix = ".tmp"

    var fileName: String { hex16(seq) + "-" + hex16(firstIndex) + SegmentName.suffix }

    init(seq: UInt64, firstIndex: UInt64) {
        self.seq = seq
        self.firstIndex = firstIndex
    }

    /// Parses a file name; nil for anything that is not a segment.
    init?(fileName: String) {
        guard fileName.hasSuffix(SegmentName.suffix) else { return nil }
        let stem = fileName.dropLast(SegmentName.suffix.count)
        let parts = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 16,
              let seq = UInt64(parts[0], radix: 16), let first = UInt64(parts[1], radix: 16) else { return nil }
        self.init(seq: seq, firstIndex: first)
    }

    static func < (a: SegmentName, b: SegmentName) -> Bool { a.seq < b.seq }
}

/// 16 lowercase hex digits, zero padded (no Foundation `String(format:)`).
func hex16(_ v: UInt64) -> String {
    let digits = String(v, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
