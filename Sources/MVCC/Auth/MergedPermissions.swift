/// One user's read and write permissions merged across its roles (etcd's unifiedRangePermissions).
/// Intervals compare as etcd's BytesAffineComparable: an empty bound is beyond every key, so a
/// permission ending in [0] ("from key") and a request's open end both reach past the last key.
struct MergedPermissions: Sendable, Equatable {
    private var read: [Interval] = []
    private var write: [Interval] = []

    struct Interval: Sendable, Equatable {
        var begin: [UInt8]
        /// Empty: unbounded.
        var end: [UInt8]
    }

    init(_ permissions: [AuthPermission]) {
        for p in permissions {
            let interval: Interval
            if p.rangeEnd.isEmpty {
                interval = Interval(begin: p.key, end: p.key + [0])  // a single key: [key, key\0)
            } else {
                interval = Interval(begin: p.key, end: p.rangeEnd == [0] ? [] : p.rangeEnd)
            }
            if p.kind != .write { read.append(interval) }
            if p.kind != .read { write.append(interval) }
        }
        read.sort { Self.compare($0.begin, $1.begin) < 0 }
        write.sort { Self.compare($0.begin, $1.begin) < 0 }
    }

    /// `rangeEnd` empty: the single key must lie in a permitted interval; otherwise the whole
    /// [key, rangeEnd) ([0]: to the end) must be covered by contiguous permitted intervals.
    func permits(key: [UInt8], rangeEnd: [UInt8], write: Bool) -> Bool {
        let intervals = write ? self.write : self.read
        if rangeEnd.isEmpty {
            return intervals.contains { Self.compare($0.begin, key) <= 0 && Self.compare(key, $0.end) < 0 }
        }
        let want = Interval(begin: key, end: rangeEnd == [0] ? [] : rangeEnd)
        // etcd's IntervalTree.Contains: the intervals overlapping `want`, in begin order, must join
        // up and span it.
        var minBegin: [UInt8]?
        var maxEnd: [UInt8] = []
        for i in intervals where Self.compare(i.begin, want.end) < 0 && Self.compare(want.begin, i.end) < 0 {
            guard minBegin != nil else {
                (minBegin, maxEnd) = (i.begin, i.end)
                continue
            }
            if Self.compare(maxEnd, i.begin) < 0 { return false }
            if Self.compare(i.end, maxEnd) > 0 { maxEnd = i.end }
        }
        guard let minBegin else { return false }
        return Self.compare(maxEnd, want.end) >= 0 && Self.compare(minBegin, want.begin) <= 0
    }

    /// etcd's BytesAffineComparable.Compare.
    static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.isEmpty ? 0 : 1 }
        if b.isEmpty { return -1 }
        if a == b { return 0 }
        return a.lexicographicallyPrecedes(b) ? -1 : 1
    }
}
