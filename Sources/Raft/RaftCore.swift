// The Raft state machine (etcd's raft.go): roles, terms, votes, and dispatch of every message.
// No I/O: outputs accumulate in `messages`, `readStates` and the log until the RawNode hands them out.

/// Marks a vote request that comes from a leader transfer, which bypasses leader stickiness.
let campaignTransferContext: [UInt8] = Array("CampaignTransfer".utf8)

enum CampaignType { case preElection, election, transfer }

final class RaftCore {
    let id: UInt64
    private(set) var term: UInt64 = 0
    private(set) var vote: UInt64 = raftNoNode
    private(set) var role: NodeRole = .follower
    private(set) var lead: UInt64 = raftNoNode
    let log: RaftLog
    let tracker: ProgressTracker
    let config: Config

    /// Outgoing messages since the last `Ready`.
    var messages: [Message] = []
    /// Messages dropped because `messages` was full (observable for tests and metrics).
    private(set) var droppedMessages = 0
    var readStates: [ReadState] = []

    private(set) var isLearner = false
    private(set) var leadTransferee: UInt64 = raftNoNode
    /// A conf change may only be proposed once this index is committed (one uncommitted change at a
    /// time; on election it is the leader's first entry, so a new leader commits in its own term first).
    private(set) var pendingConfIndex: UInt64 = 0
    private(set) var uncommittedSize: UInt64 = 0
    private var readOnly: ReadOnlyQueue
    /// ReadIndex requests that arrived before this leader committed an entry of its term.
    private var pendingReadIndexMessages: [Message] = []

    /// Membership as of `config.applied` at startup (the RawNode tracks it from there on).
    let initialAppliedConfState: ConfState
    private(set) var electionElapsed = 0
    private var heartbeatElapsed = 0
    private var randomizedElectionTimeout = 0
    private var rng: SplitMix64

    init(config: Config, storage: Storage) throws {
        try config.validate()
        self.config = config
        id = config.id
        log = try RaftLog(storage: storage, maxNextEntriesSize: config.maxCommittedSizePerReady)
        tracker = ProgressTracker(maxInflight: config.maxInflightMsgs)
        readOnly = ReadOnlyQueue(capacity: config.maxPendingReadIndex)
        rng = SplitMix64(seed: config.randomSeed)
        let (hs, _) = try storage.initialState()
        // Before the commit index compacts the membership history.
        initialAppliedConfState = log.membership.conf(at: max(config.applied, log.membership.baseIndex))
        syncConfig()
        if !hs.isEmpty { loadState(hs) }
        if config.applied > 0 { log.appliedTo(config.applied) }
        becomeFollower(term: term, lead: raftNoNode)
    }

    private func loadState(_ hs: HardState) {
        precondition(hs.commit >= log.committed && hs.commit <= log.lastIndex,
                     "\(id) state.commit \(hs.commit) is out of range [\(log.committed), \(log.lastIndex)]")
        log.commitTo(hs.commit)
        term = hs.term
        vote = hs.vote
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    var softState: SoftState { SoftState(lead: lead, role: role) }

    /// A node may campaign if it is a voter in its current configuration.
    var promotable: Bool { tracker.isVoter(id) }

    // MARK: - Sending

    func send(_ msg: Message) {
        var m = msg
        m.from = id
        precondition(m.to != id && m.to != raftNoNode, "\(id) sending \(m.type) to invalid target \(m.to)")
        switch m.type {
        case .vote, .voteResp, .preVote, .preVoteResp:
            // Vote messages carry the term they are for (a pre-vote's is in the future).
            precondition(m.term != 0, "term should be set when sending \(m.type)")
        case .prop, .readIndex:
            // Forwarded to the leader, which treats them as local messages: no term.
            break
        case .transferLeader:
            // `from` names the transferee, not the sender.
            if msg.from != raftNoNode { m.from = msg.from }
        default:
            precondition(m.term == 0, "term should not be set when sending \(m.type) (was \(m.term))")
            m.term = term
        }
        guard messages.count < config.maxOutgoingMessages else {
            droppedMessages += 1
            return
        }
        messages.append(m)
    }

    /// Sends an append (or a snapshot) to `to` if its progress allows. Returns whether it sent.
    @discardableResult
    func maybeSendAppend(to: UInt64, sendIfEmpty: Bool) -> Bool {
        guard let pr = tracker[to], !pr.isPaused else { return false }
        var m = Message(type: .app, to: to)
        let prevIndex = pr.next - 1
        let prevTerm = try? log.term(prevIndex)
        let ents = try? log.entries(from: pr.next, maxSize: config.maxSizePerMsg)
        if let ents, ents.isEmpty && !sendIfEmpty { return false }

        if let prevTerm, let ents {
            m.index = prevIndex
            m.logTerm = prevTerm
            m.entries = ents
            m.commit = log.committed
            if let last = ents.last?.index {
                switch pr.state {
                case .replicate:
                    pr.optimisticUpdate(last)
                    pr.inflights.add(last)
                case .probe:
                    pr.probeSent = true
                case .snapshot:
                    preconditionFailure("\(id) is sending append in unhandled state snapshot")
                }
            } else if pr.state == .probe {
                pr.probeSent = true
            }
        } else {
            // The entries the follower needs are compacted: send the snapshot instead.
            guard pr.recentActive else { return false }
            guard let snap = try? log.snapshot(), !snap.isEmpty else { return false }
            m.type = .snapshot
            m.snapshot = snap
            pr.becomeSnapshot(snap.metadata.index)
        }
        send(m)
        return true
    }

    func bcastAppend() {
        for peer in tracker.ids where peer != id { maybeSendAppend(to: peer, sendIfEmpty: true) }
    }

    func bcastHeartbeat(context: [UInt8] = []) {
        for peer in tracker.ids where peer != id {
            guard let pr = tracker[peer] else { continue }
            // Never claim a commit index beyond what the follower is known to hold.
            send(Message(type: .heartbeat, to: peer, commit: min(pr.match, log.committed), context: context))
        }
    }

    // MARK: - Role changes

    private func reset(term newTerm: UInt64) {
        if term != newTerm {
            term = newTerm
            vote = raftNoNode
        }
        lead = raftNoNode
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = config.electionTick + Int(rng.below(UInt64(config.electionTick)))
        leadTransferee = raftNoNode
        tracker.resetVotes()
        let last = log.lastIndex
        let own = ownDurableIndex
        for peer in tracker.ids {
            let pr = tracker[peer]!
            pr.becomeProbe()
            pr.match = peer == id ? own : 0
            pr.next = last + 1
            pr.recentActive = true
        }
        pendingConfIndex = 0
        uncommittedSize = 0
        readOnly.removeAll()
        pendingReadIndexMessages.removeAll()
    }

    func becomeFollower(term t: UInt64, lead l: UInt64) {
        reset(term: t)
        lead = l
        role = .follower
    }

    func becomeCandidate() {
        precondition(role != .leader, "invalid transition [leader -> candidate]")
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    func becomePreCandidate() {
        precondition(role != .leader, "invalid transition [leader -> pre-candidate]")
        // Neither the term nor the vote changes: a pre-election is only a poll.
        tracker.resetVotes()
        lead = raftNoNode
        role = .preCandidate
    }

    func becomeLeader() {
        precondition(role != .follower, "invalid transition [follower -> leader]")
        reset(term: term)
        lead = id
        role = .leader
        tracker[id]?.becomeReplicate()
        // The empty entry commits everything before it (§5.4.2) and must commit before any conf change.
        let ok = appendEntries([Entry()])
        precondition(ok, "empty entry was dropped")
        pendingConfIndex = log.lastIndex
    }

    /// How far our own log may count toward the commit index: only what the application persisted
    /// (Raft §10.2.1 lets a leader replicate before its own write is durable, not count it).
    private var ownDurableIndex: UInt64 {
        config.unsafeCountUnpersistedSelfAck ? log.lastIndex : log.stableIndex
    }

    /// The application persisted a `Ready` (`RawNode.advance`): `hs` if any, and the log up to
    /// `log.stableIndex`. Our own durable state now counts toward quorums — a candidate's vote for
    /// itself, a leader's entries — exactly as a peer's persisted acknowledgement would.
    func persisted(hardState hs: HardState?) {
        if role == .candidate, let hs, hs.term == term, hs.vote == id {
            if poll(id, .voteResp, granted: true) == .won {
                becomeLeader()
                bcastAppend()
            }
        }
        guard role == .leader, let me = tracker[id], me.maybeUpdate(log.stableIndex) else { return }
        // Followers learn the new commit index from the next append.
        if maybeCommit() && role == .leader { bcastAppend() }
    }

    // MARK: - Ticks

    func tick() {
        switch role {
        case .leader: tickHeartbeat()
        case .follower, .candidate, .preCandidate: tickElection()
        }
    }

    private func tickElection() {
        electionElapsed += 1
        if promotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            try? step(Message(type: .hup, from: id))
        }
    }

    private func tickHeartbeat() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTick {
            electionElapsed = 0
            if config.checkQuorum { try? step(Message(type: .checkQuorum, from: id)) }
            // A transfer that did not finish within an election timeout is abandoned.
            if role == .leader && leadTransferee != raftNoNode { leadTransferee = raftNoNode }
        }
        guard role == .leader else { return }
        if heartbeatElapsed >= config.heartbeatTick {
            heartbeatElapsed = 0
            try? step(Message(type: .beat, from: id))
        }
    }

    // MARK: - Elections

    func campaign(_ type: CampaignType) {
        guard promotable else { return }
        let voteType: MessageType
        let voteTerm: UInt64
        if type == .preElection {
            becomePreCandidate()
            voteType = .preVote
            voteTerm = term + 1  // the term we would campaign in; ours is unchanged
        } else {
            becomeCandidate()
            voteType = .vote
            voteTerm = term
        }
        if type == .preElection {
            // A pre-vote changes nothing durable, so our own counts at once.
            if poll(id, .preVoteResp, granted: true) == .won {
                campaign(.election)  // single-voter cluster
                return
            }
        }
        // A real vote for ourselves counts only once persisted (`persisted(hardState:)`): a node that
        // won before its term and vote were durable could crash, forget the term, win it again and
        // send different entries under the same (index, term) — to learners of a single voter, say.
        for peer in tracker.conf.voters where peer != id {
            send(Message(type: voteType, to: peer, term: voteTerm, logTerm: log.lastTerm, index: log.lastIndex,
                         context: type == .transfer ? campaignTransferContext : []))
        }
    }

    private func poll(_ from: UInt64, _ type: MessageType, granted: Bool) -> ProgressTracker.VoteResult {
        tracker.recordVote(from, granted: granted)
    }

    // MARK: - Membership

    /// Brings the tracker in line with the log's membership after appends, truncations or restores.
    func syncConfig() {
        log.configChanged = false
        let conf = log.membership.current
        guard conf != tracker.conf else { return }
        tracker.apply(conf, nextIndex: log.lastIndex + 1)
        isLearner = conf.isLearner(id)
        if role == .leader {
            if let me = tracker[id] { me.match = max(me.match, ownDurableIndex) }
            if leadTransferee != raftNoNode && !conf.isVoter(leadTransferee) { leadTransferee = raftNoNode }
            // A smaller quorum may commit more.
            if maybeCommit() { bcastAppend() }
        }
    }

    /// Leader: advances the commit index from the quorum's match indexes.
    @discardableResult
    func maybeCommit() -> Bool {
        assert(config.unsafeCountUnpersistedSelfAck || (tracker[id]?.match ?? 0) <= log.stableIndex,
               "\(id) counts unpersisted entries toward the commit index")
        guard log.maybeCommit(tracker.committedIndex(), term: term) else { return false }
        afterLeaderCommit()
        return true
    }

    private func afterLeaderCommit() {
        releasePendingReadIndexMessages()
        // A leader that removed (or demoted) itself leads until that change commits, then hands over.
        if !tracker.isVoter(id) && log.committed >= log.membership.lastChangeIndex {
            let successor = tracker.conf.voters
                .filter { tracker[$0]!.match == log.lastIndex }
                .first
            bcastAppend()  // let followers learn the commit index quickly
            if let s = successor { send(Message(type: .timeoutNow, to: s)) }
            becomeFollower(term: term, lead: raftNoNode)
        }
    }

    // MARK: - Appending

    /// Leader: appends entries in the current term. Returns false if the uncommitted-size bound refuses.
    func appendEntries(_ input: [Entry]) -> Bool {
        var size: UInt64 = 0
        for e in input { size += UInt64(e.data.count) }
        // Always admit a proposal when nothing is outstanding, so an oversized one cannot wedge us.
        if uncommittedSize > 0 && size > 0 && uncommittedSize + size > config.maxUncommittedEntriesSize {
            return false
        }
        uncommittedSize += size
        var ents = input
        let li = log.lastIndex
        for i in ents.indices {
            ents[i].term = term
            ents[i].index = li + 1 + UInt64(i)
        }
        let last = log.append(ents[...])
        if log.configChanged { syncConfig() }
        // Our own acknowledgement comes from `persisted` once the application wrote these entries.
        if config.unsafeCountUnpersistedSelfAck {
            _ = tracker[id]?.maybeUpdate(last)
            maybeCommit()
        }
        return true
    }

    func reduceUncommittedSize(_ ents: [Entry]) {
        guard role == .leader else { return }
        var s: UInt64 = 0
        for e in ents { s += UInt64(e.data.count) }
        uncommittedSize = s > uncommittedSize ? 0 : uncommittedSize - s
    }

    // MARK: - Step

    func step(_ m: Message) throws {
        if m.term == 0 {
            // Local message.
        } else if m.term > term {
            if m.type == .vote || m.type == .preVote {
                let force = m.context == campaignTransferContext
                let inLease = config.checkQuorum && lead != raftNoNode && electionElapsed < config.electionTick
                // Leader stickiness: a node that heard from a leader within the minimum election
                // timeout ignores vote requests, unless they come from a leader transfer.
                if !force && inLease { return }
            }
            switch m.type {
            case .preVote:
                break  // never change our term because of a pre-vote
            case .preVoteResp where !m.reject:
                break  // granted pre-votes carry our future term; the term moves once we win
            default:
                let leader = (m.type == .app || m.type == .heartbeat || m.type == .snapshot) ? m.from : raftNoNode
                becomeFollower(term: m.term, lead: leader)
            }
        } else if m.term < term {
            if (config.checkQuorum || config.preVote) && (m.type == .heartbeat || m.type == .app) {
                // A stale leader: answering with our term makes it step down.
                send(Message(type: .appResp, to: m.from))
            } else if m.type == .preVote {
                send(Message(type: .preVoteResp, to: m.from, term: term, reject: true))
            }
            return
        }

        switch m.type {
        case .hup:
            guard role != .leader, promotable else { return }
            campaign(config.preVote ? .preElection : .election)
        case .vote, .preVote:
            let canVote = vote == m.from
                || (vote == raftNoNode && lead == raftNoNode)
                || (m.type == .preVote && m.term > term)
            let respType: MessageType = m.type == .vote ? .voteResp : .preVoteResp
            // Learners and removed nodes vote too: a promotion may have committed without them knowing.
            if canVote && log.isUpToDate(lasti: m.index, term: m.logTerm) {
                send(Message(type: respType, to: m.from, term: m.term))
                if m.type == .vote {
                    electionElapsed = 0
                    vote = m.from
                }
            } else {
                send(Message(type: respType, to: m.from, term: term, reject: true))
            }
        default:
            switch role {
            case .leader: try stepLeader(m)
            case .candidate, .preCandidate: try stepCandidate(m)
            case .follower: try stepFollower(m)
            }
        }
    }

    private func stepLeader(_ m: Message) throws {
        switch m.type {
        case .beat:
            bcastHeartbeat(context: readOnly.lastContext ?? [])
            return
        case .checkQuorum:
            if !tracker.quorumActive(selfID: id) { becomeFollower(term: term, lead: raftNoNode) }
            for peer in tracker.ids where peer != id { tracker[peer]!.recentActive = false }
            return
        case .prop:
            precondition(!m.entries.isEmpty, "\(id) stepped empty proposal")
            guard tracker.isVoter(id) || tracker[id] != nil else { throw RaftError.proposalDropped }
            guard leadTransferee == raftNoNode else { throw RaftError.proposalDropped }
            guard m.entries.count <= config.maxEntriesPerProposal else { throw RaftError.proposalDropped }
            var ents = m.entries
            let isLocal = m.from == raftNoNode || m.from == id
            var newPendingConfIndex: UInt64? = nil
            for i in ents.indices where ents[i].type == .confChange {
                if newPendingConfIndex == nil && confChangeAcceptable(ents[i]) {
                    newPendingConfIndex = log.lastIndex + UInt64(i) + 1
                } else {
                    if isLocal && ents.count == 1 { throw RaftError.confChangeRefused }
                    // Keep the batch intact but neutralize the refused change (as etcd does).
                    ents[i] = Entry(type: .normal)
                }
            }
            guard appendEntries(ents) else { throw RaftError.proposalDropped }
            if let p = newPendingConfIndex { pendingConfIndex = p }
            if role == .leader { bcastAppend() }
            return
        case .readIndex:
            try leaderReadIndex(m)
            return
        default:
            break
        }

        guard let pr = tracker[m.from] else { return }
        switch m.type {
        case .appResp:
            pr.recentActive = true
            if m.reject {
                var nextProbe = m.rejectHint
                if m.logTerm > 0 { nextProbe = log.findConflictByTerm(m.rejectHint, m.logTerm) }
                if pr.maybeDecrTo(rejected: m.index, matchHint: nextProbe) {
                    if pr.state == .replicate { pr.becomeProbe() }
                    maybeSendAppend(to: m.from, sendIfEmpty: true)
                }
            } else {
                let wasPaused = pr.isPaused
                guard pr.maybeUpdate(m.index) else { return }
                switch pr.state {
                case .probe:
                    pr.becomeReplicate()
                case .snapshot:
                    if pr.match >= pr.pendingSnapshot {
                        pr.becomeProbe()
                        pr.becomeReplicate()
                    }
                case .replicate:
                    pr.inflights.freeLE(m.index)
                }
                if maybeCommit() {
                    if role == .leader { bcastAppend() }
                } else if wasPaused {
                    maybeSendAppend(to: m.from, sendIfEmpty: true)
                }
                guard role == .leader, let pr = tracker[m.from] else { return }
                // Fill the window while there is something to send.
                while maybeSendAppend(to: m.from, sendIfEmpty: false) {}
                if m.from == leadTransferee && pr.match == log.lastIndex {
                    send(Message(type: .timeoutNow, to: m.from))
                }
            }
        case .heartbeatResp:
            pr.recentActive = true
            pr.probeSent = false
            if pr.state == .replicate && pr.inflights.isFull { pr.inflights.freeFirstOne() }
            if pr.match < log.lastIndex { maybeSendAppend(to: m.from, sendIfEmpty: true) }
            guard !m.context.isEmpty, let acks = readOnly.ack(m.from, context: m.context),
                  tracker.hasQuorum(acks) else { return }
            for req in readOnly.advance(through: m.context) {
                respondToReadIndex(from: req.from, context: req.context, index: req.index)
            }
        case .snapStatus:
            guard pr.state == .snapshot else { return }
            if m.reject { pr.pendingSnapshot = 0 }
            pr.becomeProbe()
            // Wait for a heartbeat response before probing again.
            pr.probeSent = true
        case .unreachable:
            if pr.state == .replicate { pr.becomeProbe() }
        case .transferLeader:
            let transferee = m.from
            guard !pr.isLearner, tracker.isVoter(transferee) else { return }
            if leadTransferee != raftNoNode {
                if leadTransferee == transferee { return }
                leadTransferee = raftNoNode
            }
            guard transferee != id else { return }
            electionElapsed = 0  // the transfer must finish within one election timeout
            leadTransferee = transferee
            if pr.match == log.lastIndex {
                send(Message(type: .timeoutNow, to: transferee))
            } else {
                maybeSendAppend(to: transferee, sendIfEmpty: true)
            }
        default:
            break
        }
    }

    private func confChangeAcceptable(_ e: Entry) -> Bool {
        guard pendingConfIndex <= log.committed else { return false }
        guard let cc = try? ConfChange.decode(e.data) else { return false }
        return cc.isValid(on: tracker.conf)
    }

    private func stepCandidate(_ m: Message) throws {
        let myRespType: MessageType = role == .preCandidate ? .preVoteResp : .voteResp
        switch m.type {
        case .prop, .readIndex:
            throw RaftError.proposalDropped
        case .app:
            becomeFollower(term: m.term, lead: m.from)
            handleAppendEntries(m)
        case .heartbeat:
            becomeFollower(term: m.term, lead: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, lead: m.from)
            handleSnapshot(m)
        case myRespType:
            switch poll(m.from, m.type, granted: !m.reject) {
            case .won:
                if role == .preCandidate {
                    campaign(.election)
                } else {
                    becomeLeader()
                    bcastAppend()
                }
            case .lost:
                becomeFollower(term: term, lead: raftNoNode)
            case .pending:
                break
            }
        default:
            break  // timeoutNow and stale responses are ignored
        }
    }

    private func stepFollower(_ m: Message) throws {
        switch m.type {
        case .prop:
            guard lead != raftNoNode, !config.disableProposalForwarding else { throw RaftError.proposalDropped }
            var fwd = m
            fwd.to = lead
            send(fwd)
        case .app:
            electionElapsed = 0
            lead = m.from
            handleAppendEntries(m)
        case .heartbeat:
            electionElapsed = 0
            lead = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            lead = m.from
            handleSnapshot(m)
        case .transferLeader:
            guard lead != raftNoNode else { return }
            var fwd = m
            fwd.to = lead
            send(fwd)
        case .timeoutNow:
            // The leader asked us to take over now: skip the pre-vote and the stickiness check.
            if promotable { campaign(.transfer) }
        case .readIndex:
            guard lead != raftNoNode else { throw RaftError.proposalDropped }
            var fwd = m
            fwd.to = lead
            send(fwd)
        case .readIndexResp:
            guard readStates.count < config.maxPendingReadIndex else { return }
            readStates.append(ReadState(index: m.index, requestCtx: m.context))
        default:
            break
        }
    }

    // MARK: - Follower handlers

    private func handleAppendEntries(_ m: Message) {
        if m.index < log.committed {
            send(Message(type: .appResp, to: m.from, index: log.committed))
            return
        }
        if let lastNew = log.maybeAppend(index: m.index, logTerm: m.logTerm, committed: m.commit, entries: m.entries) {
            if log.configChanged { syncConfig() }
            send(Message(type: .appResp, to: m.from, index: lastNew))
        } else {
            // Tell the leader where our log could agree: the last index at or below its probe whose
            // term is not newer than the probe's term. The leader can then skip whole terms.
            var hint = min(m.index, log.lastIndex)
            hint = log.findConflictByTerm(hint, m.logTerm)
            send(Message(type: .appResp, to: m.from, logTerm: log.termOrZero(hint), index: m.index,
                         reject: true, rejectHint: hint))
        }
    }

    private func handleHeartbeat(_ m: Message) {
        log.commitTo(m.commit)
        send(Message(type: .heartbeatResp, to: m.from, context: m.context))
    }

    private func handleSnapshot(_ m: Message) {
        guard let s = m.snapshot else { return }
        if restore(s) {
            send(Message(type: .appResp, to: m.from, index: log.lastIndex))
        } else {
            send(Message(type: .appResp, to: m.from, index: log.committed))
        }
    }

    /// Installs a snapshot unless our log already covers it. Returns whether it was installed.
    func restore(_ s: Snapshot) -> Bool {
        guard s.metadata.index > log.committed else { return false }
        if log.matchTerm(s.metadata.index, s.metadata.term) {
            // We have the entries already; just fast-forward the commit index.
            log.commitTo(s.metadata.index)
            return false
        }
        log.restore(s)
        syncConfig()
        return true
    }

    // MARK: - ReadIndex

    private func leaderReadIndex(_ m: Message) throws {
        let isLocal = m.from == raftNoNode || m.from == id
        // A new leader does not know the commit index until it commits an entry of its own term —
        // a single voter neither: after a restart its persisted commit index may lag entries it had
        // already committed (and applied), and its own entry commits only once persisted.
        guard log.termOrZero(log.committed) == term else {
            guard pendingReadIndexMessages.count < config.maxPendingReadIndex else {
                if isLocal { throw RaftError.proposalDropped }
                return
            }
            pendingReadIndexMessages.append(m)
            return
        }
        if tracker.conf.voters == [id] {
            respondToReadIndex(from: m.from, context: m.context, index: log.committed)
            return
        }
        guard !readOnly.isFull else {
            if isLocal { throw RaftError.proposalDropped }
            return
        }
        if readOnly.add(from: m.from, context: m.context, index: log.committed) {
            _ = readOnly.ack(id, context: m.context)
            bcastHeartbeat(context: m.context)
        }
    }

    private func releasePendingReadIndexMessages() {
        guard !pendingReadIndexMessages.isEmpty, log.termOrZero(log.committed) == term else { return }
        let pending = pendingReadIndexMessages
        pendingReadIndexMessages.removeAll()
        for m in pending { try? leaderReadIndex(m) }
    }

    private func respondToReadIndex(from: UInt64, context: [UInt8], index: UInt64) {
        if from == raftNoNode || from == id {
            guard readStates.count < config.maxPendingReadIndex else { return }
            readStates.append(ReadState(index: index, requestCtx: context))
        } else {
            send(Message(type: .readIndexResp, to: from, index: index, context: context))
        }
    }
}
