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
/// is the current (possibly empty = key deleted) generation. The key itself lives beside it in
/// the TreeIndex chunk (the binary search reads only keys).
///
/// Two forms, one meaning. Most keys of a large store have one live generation with one retained
/// revision (written once, or compacted down to their newest revision): they are held inline
/// (`spill == nil`: generations = [Generation(version, created, [modified])]), no heap object,
/// 48 bytes. Any other history spills into a `[Generation]`; a compaction that leaves the simple
/// shape folds it back.
struct KeyIndex: Sendable {
    /// The newest revision of the key (the tombstone when it is deleted).
    private(set) var modified: Revision
    /// Inline form only: the single generation's creation revision and version.
    private var created: Revision
    private var version: Int64
    /// The full history; nil in the inline form.
    private var spill: [Generation]?

    /// A key's first put.
    init(firstPut rev: Revision) {
        modified = rev
        created = rev
        version = 1
        spill = nil
    }

    /// A key seen first at startup (older revisions may have been compacted away).
    init(restoredCreated created: Revision, modified: Revision, version: Int64) {
        self.modified = modified
        self.created = created
        self.version = version
        spill = nil
    }

    /// The generations oldest first (allocates for the inline form: off the hot path only).
    var generations: [Generation] {
        spill ?? [Generation(version: version, created: created, revisions: [modified])]
    }

    var isEmpty: Bool {
        guard let spill else { return false }
        return spill.count == 1 && spill[0].isEmpty
    }

    /// True if the current generation is alive (not ended by a tombstone).
    var isLive: Bool {
        guard let spill else { return true }
        return !spill[spill.count - 1].isEmpty
    }

    mutating func put(_ rev: Revision) {
        precondition(rev > modified, "put with a revision older than the key's last modification")
        var gens = takeGenerations()
        if gens[gens.count - 1].isEmpty { gens[gens.count - 1].created = rev }
        gens[gens.count - 1].revisions.append(rev)
        gens[gens.count - 1].version += 1
        spill = gens
        modified = rev
    }

    /// Ends the current generation with a tombstone at `rev`. The key must be live.
    mutating func tombstone(_ rev: Revision) {
        precondition(isLive, "tombstone on a deleted key")
        put(rev)
        spill!.append(Generation())
    }

    /// The history as a uniquely held array (spilling the inline form), leaving `spill` nil so
    /// the caller mutates it without a copy.
    private mutating func takeGenerations() -> [Generation] {
        if let gens = spill {
            spill = nil
            return gens
        }
        var gens: [Generation] = []
        gens.reserveCapacity(2)
        var revisions: [Revision] = []
        revisions.reserveCapacity(4)
        revisions.append(modified)
        gens.append(Generation(version: version, created: created, revisions: revisions))
        return gens
    }

    /// Folds a spilled history back inline when it is one live generation of one revision.
    private mutating func foldIfSimple() {
        guard let gens = spill, gens.count == 1, gens[0].revisions.count == 1 else { return }
        created = gens[0].created
        version = gens[0].version
        modified = gens[0].revisions[0]
        spill = nil
    }

    /// The generation alive at `atRev` (etcd's findGeneration), or nil.
    private static func generationIndex(_ generations: [Generation], at atRev: Int64) -> Int? {
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

    /// What `get(at:)` answers for a revision at or after every one the key has (a Put's view of the
    /// key it replaces): the current generation's state, nil when the key is deleted. O(1), where
    /// `get(at:)` walks the generations (it was a tenth of the applier's time under a Put load).
    var latest: (modified: Revision, created: Revision, version: Int64)? {
        guard let spill else { return (modified, created, version) }
        let last = spill.count - 1
        guard !spill[last].revisions.isEmpty else { return nil }
        return (modified, spill[last].created, spill[last].version)
    }

    /// (modified, created, version) of the key as of `atRev`, or nil when it did not exist then.
    func get(at atRev: Int64) -> (modified: Revision, created: Revision, version: Int64)? {
        guard let generations = spill else {
            return modified.main <= atRev ? (modified, created, version) : nil
        }
        guard let gi = Self.generationIndex(generations, at: atRev) else { return nil }
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
        guard spill != nil else {
            // One live generation, one revision: it stays, and is kept if it is at or below atRev.
            if modified.main <= atRev { keep.insert(modified) }
            return
        }
        var generations = takeGenerations()
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
        spill = generations
        foldIfSimple()
    }
}
