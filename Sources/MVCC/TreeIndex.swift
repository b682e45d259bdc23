#if canImport(Glibc)
import Glibc
#endif

/// The in-memory key index: every key ever written (and not compacted away) with its revision
/// history, in key order. Two levels, like a B+-tree of height two: sorted chunks of at most
/// `maxChunk` entries, found by binary search on each chunk's last key. Inserting a new key moves
/// at most `maxChunk` entries (a flat sorted array moved O(n): 17% of a put-heavy server's CPU at
/// 100k keys), and a copy-on-write of the index copies one chunk, not every key.
struct TreeIndex: Sendable {
    /// Bound on one chunk; a full chunk splits.
    static let maxChunk = 256

    /// Keys and their histories side by side: the binary search reads `keys` only (an element
    /// of a struct array holding several references was copied, retained and released at every
    /// probe).
    private struct Chunk: Sendable {
        var keys: SortedKeys
        var entries: [KeyIndex]

        var count: Int { keys.count }

        mutating func insert(_ key: [UInt8], _ entry: KeyIndex, at slot: Int) {
            keys.insert(key, at: slot)
            entries.insert(entry, at: slot)
        }

        /// The entries from `start` on, moved into a new chunk sized to fit.
        mutating func splitOff(at start: Int) -> Chunk {
            let upper = Chunk(keys: keys.splitOff(at: start), entries: Array(entries[start...]))
            // Rebuilt rather than truncated: a truncated array keeps its grown capacity.
            entries = Array(entries[..<start])
            return upper
        }
    }

    /// Non-empty, each sorted, and all keys of chunk c precede all keys of chunk c+1.
    private var chunks: [Chunk] = []
    /// `lastKeys[c]` is the last key of `chunks[c]`: the outer search reads only this array.
    private var lastKeys = SortedKeys()
    private(set) var keyCount = 0
    var chunkCount: Int { chunks.count }

    /// A position in key order; `chunk == chunks.count` is the end.
    private struct Position {
        var chunk: Int
        var slot: Int
    }

    /// The first position whose key is ≥ `key`, and whether that key is `key`.
    private func search(_ key: [UInt8]) -> (position: Position, found: Bool) {
        let c = lastKeys.lowerBound(key)
        guard c < chunks.count else { return (Position(chunk: c, slot: 0), false) }
        let (slot, found) = chunks[c].keys.search(key)
        return (Position(chunk: c, slot: slot), found)
    }

    private func find(_ key: [UInt8]) -> Position? {
        let (p, found) = search(key)
        return found ? p : nil
    }

    func get(_ key: [UInt8], at atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let p = find(key) else { return nil }
        return chunks[p.chunk].entries[p.slot].get(at: atRev)
    }

    mutating func put(_ key: [UInt8], _ rev: Revision) {
        upsert(key, update: { $0.put(rev) }, create: { KeyIndex(firstPut: rev) })
    }

    /// `put`, answering what `get(key, at: rev.main)` would have just before: one lookup for both.
    mutating func put(_ key: [UInt8], _ rev: Revision, returningPrevious: Void)
        -> (modified: Revision, created: Revision, version: Int64)? {
        var previous: (modified: Revision, created: Revision, version: Int64)?
        upsert(key, update: { entry in
            assert(entry.modified.main <= rev.main)
            previous = entry.latest  // == entry.get(at: rev.main): nothing of the key is newer than rev
            entry.put(rev)
        }, create: { KeyIndex(firstPut: rev) })
        return previous
    }

    /// Startup rebuild of a key first seen in the backend.
    mutating func restore(_ key: [UInt8], created: Revision, modified: Revision, version: Int64) {
        // Later revisions of a known key replay as ordinary puts (etcd restoreIntoIndex).
        upsert(key, update: { $0.put(modified) }, create: {
            KeyIndex(restoredCreated: created, modified: modified, version: version)
        })
    }

    private mutating func upsert(_ key: [UInt8], update: (inout KeyIndex) -> Void, create: () -> KeyIndex) {
        var (p, found) = search(key)
        if found {
            update(&chunks[p.chunk].entries[p.slot])
            return
        }
        keyCount += 1
        if chunks.isEmpty {
            chunks.append(Chunk(keys: SortedKeys([key]), entries: [create()]))
            lastKeys.append(key)
            return
        }
        if p.chunk == chunks.count {  // after every key: the end of the last chunk
            p = Position(chunk: chunks.count - 1, slot: chunks[chunks.count - 1].count)
        }
        let c = p.chunk
        chunks[c].insert(key, create(), at: p.slot)
        let count = chunks[c].count
        if p.slot == count - 1 { lastKeys.replace(at: c, with: key) }
        if count > Self.maxChunk {
            // Keys appended in order (sequential writes) leave full chunks behind; anything else
            // splits in half so later inserts on either side have room.
            let appending = c == chunks.count - 1 && p.slot == count - 1
            let upper = chunks[c].splitOff(at: appending ? count - 1 : count / 2)
            chunks.insert(upper, at: c + 1)
            lastKeys.replace(at: c, with: chunks[c].keys[chunks[c].count - 1])
            lastKeys.insert(upper.keys[upper.count - 1], at: c + 1)
        }
    }

    /// Tombstones a live key; returns false if the key is unknown or already deleted.
    @discardableResult
    mutating func tombstone(_ key: [UInt8], _ rev: Revision) -> Bool {
        guard let p = find(key), chunks[p.chunk].entries[p.slot].isLive else { return false }
        chunks[p.chunk].entries[p.slot].tombstone(rev)
        return true
    }

    /// Calls `body` for each entry whose key falls in `span`, in key order, until it returns false.
    private func forEach(in span: KeySpan, _ body: ([UInt8], KeyIndex) -> Bool) {
        let start: Position
        var end: [UInt8]? = nil
        switch span {
        case .single(let key):
            if let p = find(key) { _ = body(chunks[p.chunk].keys[p.slot], chunks[p.chunk].entries[p.slot]) }
            return
        case .atLeast(let key):
            start = search(key).position
        case .between(let key, let upper):
            start = search(key).position
            end = upper
        }
        var c = start.chunk
        var s = start.slot
        while c < chunks.count {
            let chunk = chunks[c]
            while s < chunk.count {
                if let end, !keyLess(chunk.keys[s], end) { return }
                if !body(chunk.keys[s], chunk.entries[s]) { return }
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
        forEach(in: span) { _, entry in
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
        forEach(in: span) { key, entry in
            if entry.get(at: atRev) != nil { out.append(key) }
            return true
        }
        return out
    }

    /// Compacts every key at `atRev`, dropping keys left with no history; returns the revisions
    /// ≤ atRev that must stay in the backend.
    mutating func compact(atRev: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        var rebuilt: [Chunk] = []
        rebuilt.reserveCapacity(chunks.count)
        var count = 0
        for chunk in chunks {
            var keys: [[UInt8]] = []
            var entries: [KeyIndex] = []
            keys.reserveCapacity(chunk.count)
            entries.reserveCapacity(chunk.count)
            for (key, var entry) in zip(chunk.keys.keys, chunk.entries) {
                entry.compact(atRev: atRev, keep: &keep)
                if !entry.isEmpty {
                    keys.append(key)
                    entries.append(entry)
                }
            }
            count += keys.count
            if !keys.isEmpty { rebuilt.append(Chunk(keys: SortedKeys(keys), entries: entries)) }
        }
        chunks = rebuilt
        lastKeys = SortedKeys(rebuilt.map { $0.keys[$0.count - 1] })
        keyCount = count
        return keep
    }

    /// etcd's treeIndex.Keep: the revisions a compaction at `atRev` would keep (HashKV).
    func keep(atRev: Int64) -> Set<Revision> {
        var keep = Set<Revision>()
        for chunk in chunks {
            for entry in chunk.entries { entry.keep(atRev: atRev, into: &keep) }
        }
        return keep
    }

    /// Every key in order (tests check the chunk invariants through it).
    var allKeys: [[UInt8]] {
        var out: [[UInt8]] = []
        out.reserveCapacity(keyCount)
        precondition(lastKeys.count == chunks.count, "one last key per chunk")
        lastKeys.validate()
        for (c, chunk) in chunks.enumerated() {
            precondition(chunk.count > 0 && chunk.count <= Self.maxChunk, "chunk bounds")
            precondition(chunk.keys.count == chunk.entries.count, "one entry per key")
            precondition(lastKeys[c] == chunk.keys[chunk.count - 1], "cached last key")
            chunk.keys.validate()
            out.append(contentsOf: chunk.keys.keys)
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
