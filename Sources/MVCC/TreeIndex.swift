/// The in-memory key index: every key ever written (and not compacted away) with its revision
/// history, kept in a sorted array searched by binary search. Insertion of a new key is O(n)
/// memmove of 32-byte entries, fine up to a few hundred thousand keys; a B-tree would make it
/// O(log n) for larger key spaces (noted as future work).
struct TreeIndex: Sendable {
    private(set) var entries: [KeyIndex] = []

    var keyCount: Int { entries.count }

    /// First position whose key is ≥ `key`.
    func lowerBound(_ key: [UInt8]) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].key.lexicographicallyPrecedes(key) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func find(_ key: [UInt8]) -> Int? {
        let i = lowerBound(key)
        return i < entries.count && entries[i].key == key ? i : nil
    }

    func get(_ key: [UInt8], at atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let i = find(key) else { return nil }
        return entries[i].get(at: atRev)
    }

    mutating func put(_ key: [UInt8], _ rev: Revision) {
        let i = lowerBound(key)
        if i < entries.count && entries[i].key == key {
            entries[i].put(rev)
        } else {
            var ki = KeyIndex(key: key)
            ki.put(rev)
            entries.insert(ki, at: i)
        }
    }

    /// Startup rebuild of a key first seen in the backend.
    mutating func restore(_ key: [UInt8], created: Revision, modified: Revision, version: Int64) {
        let i = lowerBound(key)
        if i < entries.count && entries[i].key == key {
            // Later revisions of a known key replay as ordinary puts (etcd restoreIntoIndex).
            entries[i].put(modified)
        } else {
            var ki = KeyIndex(key: key)
            ki.restore(created: created, modified: modified, version: version)
            entries.insert(ki, at: i)
        }
    }

    /// Tombstones a live key; returns false if the key is unknown or already deleted.
    @discardableResult
    mutating func tombstone(_ key: [UInt8], _ rev: Revision) -> Bool {
        guard let i = find(key), !entries[i].generations[entries[i].generations.count - 1].isEmpty else { return false }
        entries[i].tombstone(rev)
        return true
    }

    /// Positions of the entries whose key falls in `span`.
    func positions(_ span: KeySpan) -> Range<Int> {
        switch span {
        case .single(let key):
            if let i = find(key) { return i..<(i + 1) }
            return 0..<0
        case .atLeast(let key):
            return lowerBound(key)..<entries.count
        case .between(let key, let end):
            let lo = lowerBound(key)
            let hi = max(lo, lowerBound(end))
            return lo..<hi
        }
    }

    /// Revisions of the keys in `span` alive at `atRev`, in key order, at most `limit` (0: all),
    /// and the total number of live keys in the span.
    func revisions(_ span: KeySpan, at atRev: Int64, limit: Int, collect: Bool = true) -> (revisions: [Revision], count: Int) {
        var out: [Revision] = []
        var count = 0
        for i in positions(span) {
            guard let found = entries[i].get(at: atRev) else { continue }
            count += 1
            if collect && (limit <= 0 || out.count < limit) { out.append(found.modified) }
        }
        return (out, count)
    }

    /// Keys in `span` alive at `atRev` (for DeleteRange).
    func liveKeys(_ span: KeySpan, at atRev: Int64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for i in positions(span) where entries[i].get(at: atRev) != nil { out.append(entries[i].key) }
        return out
    }

    /// Compacts every key at `atRev`, dropping keys left with no history; returns the revisions
    /// ≤ atRev that must stay in the backend.
    mutating func compact(atRev: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        var write = 0
        for read in entries.indices {
            var ki = entries[read]
            ki.compact(atRev: atRev, keep: &keep)
            if !ki.isEmpty {
                entries[write] = ki
                write += 1
            }
        }
        entries.removeLast(entries.count - write)
        return keep
    }
}
