// Which membership is in force, derived from the log.
//
// Design choice: single-server membership changes (Raft dissertation §4.1) instead of joint consensus.
// Adding or removing one voter at a time guarantees that every majority of the old and of the new
// configuration overlap, so no intermediate joint state, no second "leave joint" entry and no
// two-quorum counting are needed; the whole mechanism is this small history plus one rule (at most
// one uncommitted change). We never need to swap several voters atomically, which is the only thing
// joint consensus buys.
//
// Unlike etcd (which switches configuration when the application *applies* the entry), a node uses
// the latest configuration entry in its *log*, committed or not, as the dissertation prescribes. With
// apply-time switching, a node that has a change in its log but has not applied it could form a
// majority under the old configuration while the rest form one under the new, which is exactly what the
// single-server argument forbids. Truncating a conflicting suffix rolls the configuration back, which
// is why the history keeps every configuration introduced above the commit index.

struct MembershipHistory {
    /// Configuration in force at `baseIndex` (committed, or the latest snapshot's).
    private(set) var base: ConfState
    private(set) var baseIndex: UInt64
    /// Configurations introduced by conf-change entries above `baseIndex`, ascending by index.
    private(set) var changes: [(index: UInt64, conf: ConfState)] = []

    init(base: ConfState, baseIndex: UInt64) {
        self.base = base
        self.baseIndex = baseIndex
    }

    var current: ConfState { changes.last?.conf ?? base }
    /// Index of the newest conf-change entry in the log (or the base index).
    var lastChangeIndex: UInt64 { changes.last?.index ?? baseIndex }

    /// The configuration in force at log index `i` (needs `i >= baseIndex`).
    func conf(at i: UInt64) -> ConfState {
        precondition(i >= baseIndex, "membership at \(i) is older than the history's base \(baseIndex)")
        var c = base
        for ch in changes where ch.index <= i { c = ch.conf }
        return c
    }

    /// Entries were appended after dropping any log suffix from `entries[0].index` on.
    /// Returns whether the current configuration changed.
    mutating func appended(_ entries: ArraySlice<Entry>) -> Bool {
        guard let first = entries.first?.index else { return false }
        let before = current
        truncate(from: first)
        for e in entries where e.type == .confChange {
            // A malformed conf-change payload cannot be produced by our leader; treat it as a no-op
            // rather than trapping on bytes from disk or the network.
            guard let cc = try? ConfChange.decode(e.data) else { continue }
            changes.append((e.index, current.applying(cc)))
        }
        return current != before
    }

    /// The log suffix from `index` on was discarded.
    mutating func truncate(from index: UInt64) {
        precondition(index > baseIndex, "cannot truncate the log at \(index) below the committed membership at \(baseIndex)")
        while let last = changes.last, last.index >= index { changes.removeLast() }
    }

    /// Changes at or below `committed` can never be rolled back: fold them into the base.
    mutating func compact(upTo committed: UInt64) {
        guard committed > baseIndex else { return }
        var n = 0
        while n < changes.count && changes[n].index <= committed {
            base = changes[n].conf
            n += 1
        }
        if n > 0 { changes.removeFirst(n) }
        baseIndex = committed
    }

    mutating func reset(to conf: ConfState, at index: UInt64) {
        base = conf
        baseIndex = index
        changes.removeAll()
    }
}
