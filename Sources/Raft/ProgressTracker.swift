// Progress of every member plus quorum arithmetic (majority of voters).

final class ProgressTracker {
    private(set) var conf = ConfState()
    private(set) var progress: [UInt64: Progress] = [:]
    /// Every member id, sorted: iterate this, never the dictionary, so runs are deterministic.
    private(set) var ids: [UInt64] = []
    let maxInflight: Int
    private var votes: [UInt64: Bool] = [:]
    /// Scratch buffer for the commit computation (no allocation per acknowledgement).
    private var matchScratch: [UInt64] = []

    init(maxInflight: Int) { self.maxInflight = maxInflight }

    subscript(id: UInt64) -> Progress? { progress[id] }

    var quorum: Int { conf.voters.count / 2 + 1 }
    func isVoter(_ id: UInt64) -> Bool { conf.isVoter(id) }

    /// Switches to `newConf`; new members start probing at `nextIndex`.
    func apply(_ newConf: ConfState, nextIndex: UInt64) {
        conf = newConf
        var updated: [UInt64: Progress] = [:]
        for id in newConf.voters {
            let p = progress[id] ?? Progress(next: nextIndex, maxInflight: maxInflight, isLearner: false)
            p.isLearner = false
            updated[id] = p
        }
        for id in newConf.learners {
            let p = progress[id] ?? Progress(next: nextIndex, maxInflight: maxInflight, isLearner: true)
            p.isLearner = true
            updated[id] = p
        }
        progress = updated
        ids = newConf.members
    }

    /// The largest index stored on a quorum of voters.
    func committedIndex() -> UInt64 {
        let n = conf.voters.count
        guard n > 0 else { return 0 }
        matchScratch.removeAll(keepingCapacity: true)
        for id in conf.voters { matchScratch.append(progress[id]!.match) }
        matchScratch.sort(by: >)
        return matchScratch[quorum - 1]
    }

    /// CheckQuorum: did a quorum of voters (counting `selfID`) talk to us recently?
    func quorumActive(selfID: UInt64) -> Bool {
        var active = 0
        for id in conf.voters where id == selfID || progress[id]!.recentActive { active += 1 }
        return active >= quorum
    }

    func resetVotes() { votes.removeAll(keepingCapacity: true) }

    enum VoteResult { case pending, won, lost }

    /// Records a vote (first one per voter counts) and tallies.
    func recordVote(_ id: UInt64, granted: Bool) -> VoteResult {
        if votes[id] == nil { votes[id] = granted }
        var yes = 0
        var no = 0
        for v in conf.voters {
            switch votes[v] {
            case true?: yes += 1
            case false?: no += 1
            case nil: break
            }
        }
        if yes >= quorum { return .won }
        if conf.voters.count - no < quorum { return .lost }
        return .pending
    }

    /// Whether `acks` contains a quorum of voters.
    func hasQuorum(_ acks: [UInt64]) -> Bool {
        var n = 0
        for v in conf.voters where acks.contains(v) { n += 1 }
        return n >= quorum
    }
}
