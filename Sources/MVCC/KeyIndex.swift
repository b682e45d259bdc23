/// One life of a key: from its creating Put to its tombstone (the last revision, if any).
struct Generation: Sendable {
    /// Number of puts in this generation so far (the version of the latest revision). Stays right
    /// after compaction trims `revisions`.
    var version: Int64 = 0
    var created = Revision(main: 0, sub: 0)
    var revisions: [Revision] = []

    var isEmpty: Bool { revisions.isEmpty }
}

/// The revision history of one key, as etcd's keyIndex: generations oldest first; the last one
/// is the current (possibly empty = key deleted) generation.
struct KeyIndex: Sendable {
    let key: [UInt8]
    var modified = Revision(main: 0, sub: 0)
    var generations: [Generation] = [Generation()]

    init(key: [UInt8]) { self.key = key }

    var isEmpty: Bool { generations.count == 1 && generations[0].isEmpty }

    mutating func put(_ rev: Revision) {
        precondition(rev > modified, "put with a revision older than the key's last modification")
        if generations[generations.count - 1].isEmpty { generations[generations.count - 1].created = rev }
        generations[generations.count - 1].revisions.append(rev)
        generations[generations.count - 1].version += 1
        modified = rev
    }

    /// Rebuilds a key seen first at startup (older revisions may have been compacted away).
    mutating func restore(created: Revision, modified: Revision, version: Int64) {
        precondition(isEmpty, "restore into a non-empty key index")
        self.modified = modified
        generations = [Generation(version: version, created: created, revisions: [modified])]
    }

    /// Ends the current generation with a tombstone at `rev`. The key must be live.
    mutating func tombstone(_ rev: Revision) {
        precondition(!generations[generations.count - 1].isEmpty, "tombstone on a deleted key")
        put(rev)
        generations.append(Generation())
    }

    /// The generation alive at `atRev` (etcd's findGeneration), or nil.
    func generationIndex(at atRev: Int64) -> Int? {
        let last = generations.count - 1
        var gi = last
        while gi >= 0 {
            let g = generations[gi]
            if g.revisions.isEmpty { gi -= 1; continue }
            // A closed generation whose tombstone is at or before atRev: the key is deleted there.
            if gi != last, g.revisions[g.revisions.count - 1].main <= atRev { return nil }
            if g.revisions[0].main <= atRev { return gi }
            gi -= 1
        }
        return nil
    }

    /// (modified, created, version) of the key as of `atRev`, or nil when it did not exist then.
    func get(at atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let gi = generationIndex(at: atRev) else { return nil }
        let g = generations[gi]
        var n = g.revisions.count - 1
        while n >= 0 && g.revisions[n].main > atRev { n -= 1 }
        guard n >= 0 else { return nil }
        return (g.revisions[n], g.created, g.version - Int64(g.revisions.count - n - 1))
    }

    /// Drops revisions before `atRev` (etcd's keyIndex.compact), keeping the newest revision at or
    /// below `atRev` of the generation alive there. Kept revisions ≤ atRev are added to `keep`.
    /// A tombstone that would be the only survivor of a closed generation is dropped too.
    mutating func compact(atRev: Int64, keep: inout Set<Revision>) {
        precondition(!isEmpty, "compact on an empty key index")
        var gi = 0
        while gi < generations.count - 1 {
            let g = generations[gi]
            if g.revisions[g.revisions.count - 1].main > atRev { break }
            gi += 1
        }
        var g = generations[gi]
        if !g.isEmpty {
            var n = g.revisions.count - 1
            while n >= 0 && g.revisions[n].main > atRev { n -= 1 }
            if n >= 0 {
                keep.insert(g.revisions[n])
                g.revisions.removeFirst(n)
            }
            generations[gi] = g
            if g.revisions.count == 1 && gi != generations.count - 1 {
                keep.remove(g.revisions[0])
                gi += 1
            }
        }
        if gi > 0 { generations.removeFirst(gi) }
    }
}
