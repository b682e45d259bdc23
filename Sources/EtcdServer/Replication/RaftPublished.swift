import Atomics
import Raft

/// What the Raft loop and the applier know, published for every other thread (headers, Status,
/// /health, metrics) without a hop: each value is written by one owner and read anywhere.
final class RaftPublished: Sendable {
    let memberID: UInt64
    private let _term = ManagedAtomic<UInt64>(0)
    private let _lead = ManagedAtomic<UInt64>(0)
    private let _committed = ManagedAtomic<UInt64>(0)
    private let _applied = ManagedAtomic<UInt64>(0)
    private let _isLearner = ManagedAtomic<Bool>(false)
    private let _leaderChanges = ManagedAtomic<UInt64>(0)

    init(memberID: UInt64) { self.memberID = memberID }

    /// Raft's current term (the response header's raft_term).
    var term: UInt64 { _term.load(ordering: .relaxed) }
    /// The leader this member knows of, 0 when none.
    var lead: UInt64 { _lead.load(ordering: .relaxed) }
    var hasLeader: Bool { lead != raftNoNode }
    var isLeader: Bool { lead == memberID }
    var committed: UInt64 { _committed.load(ordering: .relaxed) }
    var applied: UInt64 { _applied.load(ordering: .acquiring) }
    var isLearner: Bool { _isLearner.load(ordering: .relaxed) }
    var leaderChanges: UInt64 { _leaderChanges.load(ordering: .relaxed) }

    // Raft loop only.
    func setTerm(_ t: UInt64) { _term.store(t, ordering: .relaxed) }
    func setCommitted(_ c: UInt64) { _committed.store(c, ordering: .relaxed) }
    func setLearner(_ l: Bool) { _isLearner.store(l, ordering: .relaxed) }
    func setLead(_ l: UInt64) {
        if _lead.exchange(l, ordering: .relaxed) != l && l != raftNoNode {
            _leaderChanges.wrappingIncrement(ordering: .relaxed)
        }
    }
    // Applier only.
    func setApplied(_ a: UInt64) { _applied.store(a, ordering: .releasing) }
}
