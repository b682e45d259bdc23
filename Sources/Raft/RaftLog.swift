// The Raft log as Raft sees it: the application's stable storage followed by the unstable tail.

final class RaftLog {
    let storage: Storage
    var unstable: Unstable
    /// Highest index known to be stored on a quorum.
    private(set) var committed: UInt64
    /// Highest index the application has applied (`applied <= committed`).
    private(set) var applied: UInt64
    /// Bound on the committed entries handed out in one `Ready`.
    let maxNextEntriesSize: UInt64
    /// Membership derived from the log (see Membership.swift).
    private(set) var membership: MembershipHistory

    init(storage: Storage, maxNextEntriesSize: UInt64) throws {
        self.storage = storage
        self.maxNextEntriesSize = maxNextEntriesSize
        let first = try storage.firstIndex()
        let last = try storage.lastIndex()
        unstable = Unstable(offset: last + 1)
        committed = first - 1
        applied = first - 1
        let (_, conf) = try storage.initialState()
        membership = MembershipHistory(base: conf, baseIndex: first - 1)
        // Replay the configuration entries that follow the snapshot (bounded by the log itself).
        if last >= first {
            let ents = try storage.entries(first, last + 1, maxSize: UInt64.max)
            _ = membership.appended(ents[...])
        }
    }

    var firstIndex: UInt64 {
        if let i = unstable.maybeFirstIndex { return i }
        return try! storage.firstIndex()
    }

    var lastIndex: UInt64 {
        if let i = unstable.maybeLastIndex { return i }
        return try! storage.lastIndex()
    }

    var lastTerm: UInt64 { termOrZero(lastIndex) }

    /// The term of entry `i`: 0 beyond the log, `RaftError.compacted` before the first index.
    func term(_ i: UInt64) throws -> UInt64 {
        let dummy = firstIndex - 1
        if i < dummy || i > lastIndex { return 0 }
        if let t = unstable.maybeTerm(i) { return t }
        do {
            return try storage.term(i)
        } catch let e as RaftError where e == .compacted || e == .unavailable {
            throw e
        }
    }

    func termOrZero(_ i: UInt64) -> UInt64 { (try? term(i)) ?? 0 }

    func matchTerm(_ i: UInt64, _ t: UInt64) -> Bool {
        guard let got = try? term(i) else { return false }
        return got == t
    }

    /// Raft §5.4.1: is a log ending at `(lasti, term)` at least as up to date as ours?
    func isUpToDate(lasti: UInt64, term t: UInt64) -> Bool {
        t > lastTerm || (t == lastTerm && lasti >= lastIndex)
    }

    /// Follower side of AppendEntries. Returns the last index of the new entries, or nil on mismatch.
    func maybeAppend(index: UInt64, logTerm: UInt64, committed leaderCommit: UInt64, entries: [Entry]) -> UInt64? {
        guard matchTerm(index, logTerm) else { return nil }
        let lastNew = index + UInt64(entries.count)
        let ci = findConflict(entries)
        if ci != 0 {
            precondition(ci > committed, "entry \(ci) conflicts with committed entry [committed(\(committed))]")
            let offset = index + 1
            _ = append(entries[Int(ci - offset)...])
        }
        commitTo(min(leaderCommit, lastNew))
        return lastNew
    }

    /// Appends (possibly replacing a suffix). Returns the new last index.
    @discardableResult
    func append(_ ents: ArraySlice<Entry>) -> UInt64 {
        guard let first = ents.first?.index else { return lastIndex }
        precondition(first - 1 >= committed, "after(\(first - 1)) is out of range [committed(\(committed))]")
        unstable.truncateAndAppend(Array(ents))
        configChanged = membership.appended(ents) || configChanged
        return lastIndex
    }

    /// Set when an append, truncation or restore changed the membership; Raft clears it after syncing.
    var configChanged = false

    /// The first index in `ents` whose term differs from ours (or that we lack); 0 if all match.
    func findConflict(_ ents: [Entry]) -> UInt64 {
        for e in ents where !matchTerm(e.index, e.term) { return e.index }
        return 0
    }

    /// The largest index `<= index` whose term is `<= term` (fast back-off for rejected appends).
    func findConflictByTerm(_ index: UInt64, _ t: UInt64) -> UInt64 {
        var i = index
        while i > 0 {
            guard let ourTerm = try? term(i) else { break }
            if ourTerm <= t { break }
            i -= 1
        }
        return i
    }

    var unstableEntries: [Entry] { unstable.entries }

    /// Committed entries not yet applied, bounded by `maxNextEntriesSize`.
    func nextEntries() -> [Entry] {
        let off = max(applied + 1, firstIndex)
        guard committed + 1 > off else { return [] }
        return (try? slice(off, committed + 1, maxSize: maxNextEntriesSize)) ?? []
    }

    var hasNextEntries: Bool { committed + 1 > max(applied + 1, firstIndex) }

    func snapshot() throws -> Snapshot {
        if let s = unstable.snapshot { return s }
        return try storage.snapshot()
    }

    func commitTo(_ toCommit: UInt64) {
        guard committed < toCommit else { return }
        precondition(lastIndex >= toCommit,
                     "tocommit(\(toCommit)) is out of range [lastIndex(\(lastIndex))]; was the log lost?")
        committed = toCommit
        membership.compact(upTo: toCommit)
    }

    func appliedTo(_ i: UInt64) {
        guard i != 0 else { return }
        precondition(committed >= i && i >= applied, "applied(\(i)) out of range [prev(\(applied)), committed(\(committed))]")
        applied = i
    }

    /// Last index of this log the application has persisted (`advance`d): everything before the
    /// unstable tail. While a received snapshot awaits persistence no part of the log is durable, so 0.
    var stableIndex: UInt64 { unstable.snapshot == nil ? unstable.offset - 1 : 0 }

    func stableTo(_ i: UInt64, _ t: UInt64) { unstable.stableTo(i, t) }
    func stableSnapTo(_ i: UInt64) { unstable.stableSnapTo(i) }

    /// Leader side: commit `maxIndex` if it carries the current term (Raft §5.4.2).
    func maybeCommit(_ maxIndex: UInt64, term t: UInt64) -> Bool {
        if maxIndex > committed && termOrZero(maxIndex) == t {
            commitTo(maxIndex)
            return true
        }
        return false
    }

    /// Replaces the log with a snapshot received from the leader.
    func restore(_ s: Snapshot) {
        committed = s.metadata.index
        unstable.restore(s)
        membership.reset(to: s.metadata.confState, at: s.metadata.index)
        configChanged = true
    }

    /// Entries from `i` on, at most `maxSize` bytes.
    func entries(from i: UInt64, maxSize: UInt64) throws -> [Entry] {
        if i > lastIndex { return [] }
        return try slice(i, lastIndex + 1, maxSize: maxSize)
    }

    func slice(_ lo: UInt64, _ hi: UInt64, maxSize: UInt64) throws -> [Entry] {
        precondition(lo <= hi, "invalid slice \(lo) > \(hi)")
        let fi = firstIndex
        if lo < fi { throw RaftError.compacted }
        precondition(hi <= lastIndex + 1, "slice[\(lo),\(hi)) out of bound [\(fi),\(lastIndex)]")
        if lo == hi { return [] }
        var ents: [Entry] = []
        if lo < unstable.offset {
            let stored = try storage.entries(lo, min(hi, unstable.offset), maxSize: maxSize)
            // Storage trimmed by size: do not add unstable entries after a gap.
            if UInt64(stored.count) < min(hi, unstable.offset) - lo { return stored }
            ents = stored
        }
        if hi > unstable.offset {
            ents.append(contentsOf: unstable.slice(max(lo, unstable.offset), hi))
        }
        return limitSize(ents, maxSize)
    }
}
