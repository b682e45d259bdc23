// Read-only view of the leader's replication progress, for the application's membership checks
// (etcd's isLearnerReady compares a learner's match index with the leader's).

public struct PeerProgress: Equatable, Sendable {
    public var match: UInt64
    public var next: UInt64
    public var isLearner: Bool
}

extension RawNode {
    /// Each member's progress as the leader tracks it; empty unless this node leads.
    public var progress: [UInt64: PeerProgress] {
        guard core.role == .leader else { return [:] }
        var out: [UInt64: PeerProgress] = [:]
        for id in core.tracker.ids {
            guard let pr = core.tracker[id] else { continue }
            out[id] = PeerProgress(match: pr.match, next: pr.next, isLearner: pr.isLearner)
        }
        return out
    }
}
