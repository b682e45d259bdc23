// The leader's view of one follower's log (etcd's tracker.Progress).

enum ProgressState: UInt8, Sendable {
    /// We do not know the follower's last index: send one append per heartbeat until it answers.
    case probe
    /// Steady state: stream appends optimistically, bounded by the inflight window.
    case replicate
    /// The follower needs a snapshot; wait until it reports installing it.
    case snapshot
}

final class Progress {
    var match: UInt64
    var next: UInt64
    private(set) var state: ProgressState = .probe
    /// Index of the snapshot being sent while in `.snapshot`.
    var pendingSnapshot: UInt64 = 0
    /// Heard from within the last election timeout (CheckQuorum, and whether to bother sending snapshots).
    var recentActive: Bool
    /// In probe state: one append is outstanding, wait for an answer or the next heartbeat.
    var probeSent = false
    var inflights: Inflights
    var isLearner: Bool

    init(next: UInt64, maxInflight: Int, isLearner: Bool) {
        match = 0
        self.next = next
        inflights = Inflights(capacity: maxInflight)
        self.isLearner = isLearner
        recentActive = true
    }

    private func reset(to s: ProgressState) {
        probeSent = false
        pendingSnapshot = 0
        state = s
        inflights.reset()
    }

    func becomeProbe() {
        // After a snapshot, the follower holds at least the snapshot's entries.
        if state == .snapshot {
            let pending = pendingSnapshot
            reset(to: .probe)
            next = max(match + 1, pending + 1)
        } else {
            reset(to: .probe)
            next = match + 1
        }
    }

    func becomeReplicate() {
        reset(to: .replicate)
        next = match + 1
    }

    func becomeSnapshot(_ index: UInt64) {
        reset(to: .snapshot)
        pendingSnapshot = index
    }

    /// An append up to `n` was acknowledged. Returns whether `match` moved.
    func maybeUpdate(_ n: UInt64) -> Bool {
        var updated = false
        if match < n {
            match = n
            updated = true
            probeSent = false
        }
        next = max(next, n + 1)
        return updated
    }

    func optimisticUpdate(_ n: UInt64) { next = n + 1 }

    /// An append at `rejected` was refused; `matchHint` is the follower's guess of where logs agree.
    /// Returns false for stale rejections.
    func maybeDecrTo(rejected: UInt64, matchHint: UInt64) -> Bool {
        if state == .replicate {
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // In probe state only the answer to the latest probe (at next - 1) counts.
        if next == 0 || next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), 1)
        probeSent = false
        return true
    }

    var isPaused: Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflights.isFull
        case .snapshot: return true
        }
    }
}
