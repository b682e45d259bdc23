// Entries and a snapshot that Raft has accepted but the application has not yet persisted.

struct Unstable {
    /// A snapshot received from the leader, waiting to be persisted.
    var snapshot: Snapshot?
    var entries: [Entry] = []
    /// Index of `entries[0]`.
    var offset: UInt64

    init(offset: UInt64) { self.offset = offset }

    var maybeFirstIndex: UInt64? { snapshot.map { $0.metadata.index + 1 } }

    var maybeLastIndex: UInt64? {
        if !entries.isEmpty { return offset + UInt64(entries.count) - 1 }
        return snapshot?.metadata.index
    }

    func maybeTerm(_ i: UInt64) -> UInt64? {
        if i < offset {
            if let s = snapshot, s.metadata.index == i { return s.metadata.term }
            return nil
        }
        guard let last = maybeLastIndex, i <= last else { return nil }
        return entries[Int(i - offset)].term
    }

    /// The application persisted entries up to `(i, t)`; forget them unless they were since replaced.
    mutating func stableTo(_ i: UInt64, _ t: UInt64) {
        guard let gt = maybeTerm(i), gt == t, i >= offset else { return }
        let n = Int(i + 1 - offset)
        if n == entries.count {
            entries.removeAll(keepingCapacity: true)
        } else {
            entries.removeFirst(n)
        }
        offset = i + 1
    }

    mutating func stableSnapTo(_ i: UInt64) {
        if let s = snapshot, s.metadata.index == i { snapshot = nil }
    }

    mutating func restore(_ s: Snapshot) {
        offset = s.metadata.index + 1
        entries.removeAll()
        snapshot = s
    }

    mutating func truncateAndAppend(_ ents: [Entry]) {
        guard let after = ents.first?.index else { return }
        if after == offset + UInt64(entries.count) {
            entries.append(contentsOf: ents)
        } else if after <= offset {
            // Replaces everything unstable; the storage part beyond `after` is overwritten on persist.
            offset = after
            entries = ents
        } else {
            entries.removeSubrange(Int(after - offset)...)
            entries.append(contentsOf: ents)
        }
    }

    func slice(_ lo: UInt64, _ hi: UInt64) -> ArraySlice<Entry> {
        precondition(lo <= hi && lo >= offset && hi <= offset + UInt64(entries.count),
                     "unstable.slice[\(lo),\(hi)) out of bounds [\(offset),\(offset + UInt64(entries.count))]")
        return entries[Int(lo - offset)..<Int(hi - offset)]
    }
}
