#if canImport(Glibc)
import Glibc
#endif

/// The in-memory key index: every key ever written (and not compacted away) with its revision
/// history, in key order. Two levels, like a B+-tree of height two: sorted chunks of at most
/// `maxChunk` entries, found by binary search on each chunk's last key. Inserting a new key moves
/// at most `maxChunk` entries (a flat sorted array moved O(n): 17% of a put-heavy server's CPU at
/// 100k keys), and a copy-on-write of the index copies one chunk, not every key.
struct TreeIndex: Sendable {
    /// Bound on one chunk; a full chunk splits in half.
    static let maxChunk = 256

    /// Non-empty, each sorted, and all keys of chunk c precede all keys of chunk c+1.
    private var chunks: [[KeyIndex]] = []
    /// `lastKeys[c]` is the last key of `chunks[c]`: the outer search reads only this array.
    private var lastKeys: [[UInt8]] = []
    private(set) var keyCount = 0

    /// A position in key order; `chunk == chunks.count` is the end.
    private struct Position {
        var chunk: Int
        var slot: Int
    }

    /// The first position whose key is ≥ `key`.
    private func lowerBound(_ key: [UInt8]) -> Position {
        let lo = lastKeys.withUnsafeBufferPointer { last in
            var lo = 0
            var hi = last.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keyLess(last[mid], key) { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        guard lo < chunks.count else { return Position(chunk: lo, slot: 0) }
        let slot = chunks[lo].withUnsafeBufferPointer { chunk in
            var a = 0
            var b = chunk.count
            while a < b {
                let mid = (a + b) / 2
                if keyLess(chunk[mid].key, key) { a = mid + 1 } else { b = mid }
            }
            return a
        }
        return Position(chunk: lo, slot: slot)
    }

    private func find(_ key: [UInt8]) -> Position? {
        let p = lowerBound(key)
        return p.chunk < chunks.count && chunks[p.chunk][p.slot].key == key ? p : nil
    }

    func get(_ key: [UInt8], at atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let p = find(key) else { return nil }
        return chunks[p.chunk][p.slot].get(at: atRev)
    }

    mutating func put(_ key: [UInt8], _ rev: Revision) {
        upsert(key, update: { $0.put(rev) }, create: {
            var ki = KeyIndex(key: key)
            ki.put(rev)
            return ki
        })
    }

    /// Startup rebuild of a key first seen in the backend.
    mutating func restore(_ key: [UInt8], created: Revision, modified: Revision, version: Int64) {
        // Later revisions of a known key replay as ordinary puts (etcd restoreIntoIndex).
        upsert(key, update: { $0.put(modified) }, create: {
            var ki = KeyIndex(key: key)
            ki.restore(created: created, modified: modified, version: version)
            return ki
        })
    }

    private mutating func upsert(_ key: [UInt8], update: (inout KeyIndex) -> Void, create: () -> KeyIndex) {
        var p = lowerBound(key)
        if p.chunk < chunks.count && chunks[p.chunk][p.slot].key == key {
            update(&chunks[p.chunk][p.slot])
            return
        }
        keyCount += 1
        if chunks.isEmpty {
            chunks.append([create()])
            lastKeys.append(key)
            return
        }
        if p.chunk == chunks.count {  // after every key: the end of the last chunk
            p = Position(chunk: chunks.count - 1, slot: chunks[chunks.count - 1].count)
        }
        chunks[p.chunk].insert(create(), at: p.slot)
        if p.slot == chunks[p.chunk].count - 1 { lastKeys[p.chunk] = key }
        if chunks[p.chunk].count > Self.maxChunk {
            let upper = Array(chunks[p.chunk][(Self.maxChunk / 2)...])
            chunks[p.chunk].removeLast(upper.count)
            chunks.insert(upper, at: p.chunk + 1)
            lastKeys[p.chunk] = chunks[p.chunk][chunks[p.chunk].count - 1].key
            lastKeys.insert(upper[upper.count - 1].key, at: p.chunk + 1)
        }
    }

    /// Tombstones a live key; returns false if the key is unknown or already deleted.
    @discardableResult
    mutating func tombstone(_ key: [UInt8], _ rev: Revision) -> Bool {
        guard let p = find(key) else { return false }
        let generations = chunks[p.chunk][p.slot].generations
        guard !generations[generations.count - 1].isEmpty else { return false }
        chunks[p.chunk][p.slot].tombstone(rev)
        return true
    }

    /// Calls `body` for each entry whose key falls in `span`, in key order, until it returns false.
    private func forEach(in span: KeySpan, _ body: (KeyIndex) -> Bool) {
        let start: Position
        var end: [UInt8]? = nil
        switch span {
        case .single(let key):
            if let p = find(key) { _ = body(chunks[p.chunk][p.slot]) }
            return
        case .atLeast(let key):
            start = lowerBound(key)
        case .between(let key, let upper):
            start = lowerBound(key)
            end = upper
        }
        var c = start.chunk
        var s = start.slot
        while c < chunks.count {
            let chunk = chunks[c]
            while s < chunk.count {
                if let end, !keyLess(chunk[s].key, end) { return }
                if !body(chunk[s]) { return }
                s += 1
            }
            c += 1
            s = 0
        }
    }

    /// Revisions of the keys in `span` alive at `atRev`, in key order, at most `limit` (0: all),
    /// and the total number of live keys in the span.
    func revisions(_ span: KeySpan, at atRev: Int64, limit: Int, collect: Bool = true) -> (revisions: [Revision], count: Int) {
        var out: [Revision] = []
        var count = 0
        forEach(in: span) { entry in
            guard let found = entry.get(at: atRev) else { return true }
            count += 1
            if collect && (limit <= 0 || out.count < limit) { out.append(found.modified) }
            return true
        }
        return (out, count)
    }

    /// Keys in `span` alive at `atRev` (for DeleteRange).
    func liveKeys(_ span: KeySpan, at atRev: Int64) -> [[UInt8]] {
        var out: [[UInt8]] = []
        forEach(in: span) { entry in
            if entry.get(at: atRev) != nil { out.append(entry.key) }
            return true
        }
        return out
    }

    /// Compacts every key at `atRev`, dropping keys left with no history; returns the revisions
    /// ≤ atRev that must stay in the backend.
    mutating func compact(atRev: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        var rebuilt: [[KeyIndex]] = []
        rebuilt.reserveCapacity(chunks.count)
        var count = 0
        for chunk in chunks {
            var kept: [KeyIndex] = []
            kept.reserveCapacity(chunk.count)
            for var entry in chunk {
                entry.compact(atRev: atRev, keep: &keep)
                if !entry.isEmpty { kept.append(entry) }
            }
            count += kept.count
            if !kept.isEmpty { rebuilt.append(kept) }
        }
        chunks = rebuilt
        lastKeys = rebuilt.map { $0[$0.count - 1].key }
        keyCount = count
        return keep
    }

    /// etcd's treeIndex.Keep: the revisions a compaction at `atRev` would keep (HashKV).
    func keep(atRev: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        for chunk in chunks {
            for entry in chunk { entry.keep(atRev: atRev, into: &keep) }
        }
        return keep
    }

    /// Every key in order (tests check the chunk invariants through it).
    var allKeys: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(keyCount)
        precondition(lastKeys.count == chunks.count, "one last key per chunk")
        for (c, chunk) in chunks.enumerated() {
            precondition(!chunk.isEmpty && chunk.count <= Self.maxChunk, "chunk bounds")
            precondition(lastKeys[c] == chunk[chunk.count - 1].key, "cached last key")
            for entry in chunk { out.append(entry.key) }
        }
        return out
    }
}

/// Byte-wise key order (etcd's), with memcmp rather than a generic sequence comparison.
@inline(__always)
func keyLess(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            let n = min(pa.count, pb.count)
            let r = n == 0 ? 0 : memcmp(pa.baseAddress!, pb.baseAddress!, n)
            return r < 0 || (r == 0 && pa.count < pb.count)
        }
    }
}
