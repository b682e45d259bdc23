// A deterministic simulated cluster: nodes, a faulty network, crashes, and an operator that changes
// membership and takes snapshots. One SplitMix64 seed drives every decision, and iteration is only
// ever over arrays, so a seed replays identically in any process.
//
// Persistence is asynchronous, as with a real disk: a node's Ready is written at once but becomes
// durable (moves into its MemoryStorage, then `advance`) only at a random later step, and a crash
// loses whatever was not durable yet. Meanwhile the leader's appends are already on the network
// (Raft §10.2.1), committed entries are applied (apply overlaps the sync), and the node keeps
// stepping messages; its other messages (vote and append responses, heartbeats, ...) wait for the
// sync. One write is outstanding per node: RawNode takes no new Ready before `advance`.
@testable import Raft

struct SimParameters {
    var voters = 3
    /// Extra node ids that may join as learners, get promoted, and be removed.
    var spares = 2
    var chaosSteps = 140
    /// After healing, a leader must commit a new proposal (and every member apply it) within this many ticks.
    var livenessBound = 250
    /// A Ready's write becomes durable 0...maxSyncDelay steps after it was taken (at once if it has
    /// nothing to write).
    var maxSyncDelay: UInt64 = 3
    /// Check, every step, that whatever any node holds committed is durable on enough voters.
    var checkCommitDurability = true
    /// Runs the nodes with `Config.unsafeCountUnpersistedSelfAck` (the bug the harness must catch).
    var unsafeCountUnpersistedSelfAck = false
}

final class SimNode {
    let id: UInt64
    var storage: MemoryStorage
    var raft: RawNode?
    var retired = false
    var joined = false
    var wasMember = false
    var restarts: UInt64 = 0
    var appliedIndex: UInt64 = 0
    var appliedHash: UInt64 = 0
    /// Commit index of the durable hard state.
    var persistedCommit: UInt64 = 0
    /// Highest commit index handed out since the last (re)start: never below `persistedCommit`.
    var commitSeen: UInt64 = 0
    /// The Ready written but not yet durable (lost by a crash), the step it becomes durable at, and
    /// its messages that must wait for that.
    var unsynced: Ready?
    var syncAt = 0
    var heldMessages: [Message] = []

    init(id: UInt64, storage: MemoryStorage) {
        self.id = id
        self.storage = storage
    }

    var isUp: Bool { raft != nil }
}

struct InFlight {
    var at: Int
    var seq: Int
    var message: Message
}

final class SimCluster {
    let seed: UInt64
    let params: SimParameters
    var rng: SplitMix64
    var now = 0
    var nodes: [SimNode] = []
    var network: [InFlight] = []
    private var seq = 0
    let maxNetworkMessages = 4096
    /// Partition group per node index; messages only flow within a group.
    var group: [Int]
    var dropPerMille: UInt64 = 0
    var dupPerMille: UInt64 = 0
    var maxDelay: UInt64 = 3
    var checker = SafetyChecker()
    /// Membership after the last committed conf change (as first applied anywhere).
    var clusterConf: ConfState
    var pendingChange: (cc: ConfChange, deadline: Int)?
    /// Outstanding reads: context -> the highest index known committed when the read was issued.
    var pendingReads: [[UInt8]: UInt64] = [:]
    var proposalCounter: UInt64 = 0
    /// `lostWrites`: crashes that dropped a write not yet durable.
    var stats = (proposals: 0, applied: 0, snapshots: 0, confChanges: 0, reads: 0, crashes: 0, lostWrites: 0)

    init(seed: UInt64, params: SimParameters) throws {
        self.seed = seed
        self.params = params
        rng = SplitMix64(seed: seed)
        let voters = (1...UInt64(params.voters)).map { $0 }
        clusterConf = ConfState(voters: voters)
        group = Array(repeating: 0, count: params.voters + params.spares)
        for i in 0..<(params.voters + params.spares) {
            let id = UInt64(i + 1)
            let founding = i < params.voters
            let node = SimNode(id: id, storage: founding ? MemoryStorage.bootstrap(voters: voters) : MemoryStorage())
            node.joined = founding
            nodes.append(node)
            if founding { try start(node) }
        }
    }

    // MARK: - Node lifecycle

    func config(for node: SimNode) -> Config {
        var c = Config(id: node.id, randomSeed: seed &* 31 &+ node.id &* 1_000_003 &+ node.restarts)
        c.electionTick = 10
        c.heartbeatTick = 2
        c.applied = node.storage.currentSnapshot.metadata.index
        c.maxSizePerMsg = 96  // a few entries per append: exercises batching and flow control
        c.maxInflightMsgs = 4
        c.maxUncommittedEntriesSize = 2048
        c.maxPendingReadIndex = 64
        c.unsafeCountUnpersistedSelfAck = params.unsafeCountUnpersistedSelfAck
        return c
    }

    /// (Re)starts a node from what it persisted: storage plus the snapshot as application state.
    func start(_ node: SimNode) throws {
        let snap = node.storage.currentSnapshot
        node.appliedIndex = snap.metadata.index
        node.appliedHash = decodeStateHash(snap.data)
        node.persistedCommit = node.storage.hardState.commit
        node.commitSeen = node.persistedCommit
        node.raft = try RawNode(config: config(for: node), storage: node.storage)
        try drainReady(node)
    }

    /// Stops a node; what it wrote but had not synced is lost, with the messages waiting for that.
    func crash(_ node: SimNode) {
        if node.unsynced != nil { stats.lostWrites += 1 }
        stop(node)
        node.restarts += 1
        stats.crashes += 1
    }

    private func stop(_ node: SimNode) {
        node.raft = nil
        node.unsynced = nil
        node.heldMessages = []
    }

    func decodeStateHash(_ data: [UInt8]) -> UInt64 {
        guard data.count == 8 else { return 0 }
        var h: UInt64 = 0
        for (i, b) in data.enumerated() { h |= UInt64(b) << (8 * UInt64(i)) }
        return h
    }

    func encodeStateHash(_ h: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: h >> (8 * UInt64($0))) } }

    func node(_ id: UInt64) -> SimNode? {
        guard id >= 1 && Int(id) <= nodes.count else { return nil }
        return nodes[Int(id - 1)]
    }

    // MARK: - Ready processing

    /// Takes Readys while the node has work, making its outstanding write durable when it is due.
    func drainReady(_ node: SimNode) throws {
        var rounds = 0
        while let raft = node.raft {
            rounds += 1
            precondition(rounds < 100, "node \(node.id) never stops producing Ready")
            if let rd = node.unsynced {
                guard now >= node.syncAt else { return }
                try sync(node, raft, rd)
            } else if raft.hasReady {
                try takeReady(node, raft)
            } else {
                return
            }
        }
    }

    /// Writes a Ready (not durable yet), sends the leader's appends, applies what is committed.
    private func takeReady(_ node: SimNode, _ raft: RawNode) throws {
        let rd = raft.ready()
        let log = raft.core.log
        if let snap = rd.snapshot {
            try checker.snapshotInstalled(index: snap.metadata.index, term: snap.metadata.term, node: node.id)
        }
        if let first = rd.entries.first {
            var prevTerm = log.termOrZero(first.index - 1)
            for e in rd.entries {
                try checker.appended(e, prevTerm: prevTerm, node: node.id)
                prevTerm = e.term
            }
        }
        if let hs = rd.hardState {
            if hs.commit < node.commitSeen {
                throw SimFailure(description: "node \(node.id) commit went backwards: \(node.commitSeen) -> \(hs.commit) (persisted \(node.persistedCommit))")
            }
            node.commitSeen = hs.commit
        }
        if let ss = rd.softState, ss.role == .leader {
            let term = raft.status.hardState.term
            try checker.leaderElected(node.id, term: term)
            try checker.checkLeaderComplete(node: node.id, log: log)
        }
        // Send: a leader's appends before its own write is durable, everything else after.
        node.heldMessages = []
        for m in rd.messages {
            if m.type == .app { enqueue(m) } else { node.heldMessages.append(m) }
        }
        // Apply, overlapping the write: committed entries are durable on a quorum already.
        if let snap = rd.snapshot {
            node.appliedIndex = snap.metadata.index
            node.appliedHash = decodeStateHash(snap.data)
            try checker.checkState(index: node.appliedIndex, hash: node.appliedHash, node: node.id)
        }
        for e in rd.committedEntries {
            if e.index != node.appliedIndex + 1 {
                throw SimFailure(description: "node \(node.id) applies \(e.index) after \(node.appliedIndex)")
            }
            node.appliedIndex = e.index
            node.appliedHash = stateHash(node.appliedHash, e)
            try checker.applied(e, stateAfter: node.appliedHash, node: node.id)
            stats.applied += 1
            if markerIndex == nil, let mk = marker, e.data == mk { markerIndex = e.index }
            if e.type == .confChange, let cc = try? ConfChange.decode(e.data) {
                raft.applyConfChange(cc)
                if clusterConfIndex < e.index {
                    clusterConfIndex = e.index
                    clusterConf = clusterConf.applying(cc)
                    stats.confChanges += 1
                }
            }
        }
        for rs in rd.readStates {
            guard let minIndex = pendingReads.removeValue(forKey: rs.requestCtx) else { continue }
            if rs.index < minIndex {
                throw SimFailure(description: "read index \(rs.index) at node \(node.id) misses committed index \(minIndex)")
            }
            stats.reads += 1
        }
        node.unsynced = rd
        // Nothing to write, nothing to wait for (a pre-vote round, say, must not stall on the disk).
        let writes = rd.snapshot != nil || !rd.entries.isEmpty || rd.hardState != nil
        node.syncAt = writes ? now + Int(rng.below(params.maxSyncDelay + 1)) : now
    }

    /// The write of `rd` is durable now: into the storage, release the held messages, `advance`.
    private func sync(_ node: SimNode, _ raft: RawNode, _ rd: Ready) throws {
        let storage = node.storage
        if let snap = rd.snapshot { try storage.applySnapshot(snap) }
        if !rd.entries.isEmpty { try storage.append(rd.entries) }
        if let hs = rd.hardState {
            if hs.commit < node.persistedCommit {
                throw SimFailure(description: "node \(node.id) persisted commit went backwards: \(node.persistedCommit) -> \(hs.commit)")
            }
            node.persistedCommit = hs.commit
            storage.setHardState(hs)
        }
        node.unsynced = nil
        let held = node.heldMessages
        node.heldMessages = []
        for m in held { enqueue(m) }
        raft.advance(rd)
    }

    /// Highest index verified durable on enough voters (see `checkCommitDurability`).
    private var durableCommit: UInt64 = 0

    /// An index a node holds committed must be durable on enough voters of its configuration that
    /// no quorum lacks it; otherwise a crash can lose an entry that may already be applied and
    /// acknowledged. Leaders first: they computed the commit index, with their configuration.
    private func checkCommitDurability() throws {
        guard params.checkCommitDurability else { return }
        let isLeader = { (n: SimNode) in n.raft?.status.softState.role == .leader }
        for n in nodes.filter(isLeader) + nodes.filter({ !isLeader($0) }) {
            guard let raft = n.raft else { continue }
            let log = raft.core.log
            guard log.committed > durableCommit else { continue }
            let voters = raft.core.tracker.conf.voters
            let need = voters.count - (voters.count / 2 + 1) + 1
            for i in (durableCommit + 1)...log.committed {
                guard let t = try? log.term(i) else {
                    throw SimFailure(description: "node \(n.id) holds index \(i) committed but no longer has it")
                }
                let holders = voters.filter { v in self.node(v).map { durablyHolds($0, index: i, term: t) } ?? false }
                if holders.count < need {
                    throw SimFailure(description: "node \(n.id) holds index \(i) (term \(t)) committed, but it is durable only on \(holders) of voters \(voters): a crash can lose it")
                }
            }
            durableCommit = log.committed
        }
    }

    private func durablyHolds(_ n: SimNode, index: UInt64, term: UInt64) -> Bool {
        // A snapshot holds only committed entries; whether the same ones is State Machine Safety's check.
        if index <= n.storage.currentSnapshot.metadata.index { return true }
        return (try? n.storage.term(index)) == term
    }

    private var clusterConfIndex: UInt64 = 0
    /// The liveness proposal and where it committed.
    var marker: [UInt8]?
    var markerIndex: UInt64?
    var livenessTicks = 0

    // MARK: - Network

    func enqueue(_ m: Message) {
        guard network.count < maxNetworkMessages else { return }
        if dropPerMille > 0 && rng.below(1000) < dropPerMille {
            if m.type == .snapshot { reportSnapshotLost(m) }
            return
        }
        let copies = (dupPerMille > 0 && rng.below(1000) < dupPerMille) ? 2 : 1
        for _ in 0..<copies {
            seq += 1
            network.append(InFlight(at: now + 1 + Int(rng.below(maxDelay)), seq: seq, message: m))
        }
    }

    private func reportSnapshotLost(_ m: Message) {
        guard let sender = node(m.from)?.raft else { return }
        sender.reportUnreachable(m.to)
        sender.reportSnapshot(m.to, status: .failure)
    }

    func deliverDue() throws {
        var due: [InFlight] = []
        var rest: [InFlight] = []
        rest.reserveCapacity(network.count)
        for f in network {
            if f.at <= now { due.append(f) } else { rest.append(f) }
        }
        network = rest
        due.sort { ($0.at, $0.seq) < ($1.at, $1.seq) }
        for f in due {
            let m = f.message
            guard let to = node(m.to), let from = node(m.from) else { continue }
            let connected = group[Int(to.id - 1)] == group[Int(from.id - 1)]
            guard connected, let raft = to.raft else {
                if m.type == .snapshot { reportSnapshotLost(m) }
                continue
            }
            do {
                try raft.step(m)
            } catch let e as RaftError where e == .proposalDropped || e == .stepPeerNotFound {
                // Expected under churn.
            }
            if m.type == .snapshot, let sender = from.raft { sender.reportSnapshot(m.to, status: .finish) }
        }
    }

    // MARK: - Driving

    var upNodes: [SimNode] { nodes.filter { $0.isUp } }

    var leader: SimNode? {
        var best: SimNode?
        var bestTerm: UInt64 = 0
        for n in nodes {
            guard let r = n.raft else { continue }
            let st = r.status
            if st.softState.role == .leader && st.hardState.term >= bestTerm {
                best = n
                bestTerm = st.hardState.term
            }
        }
        return best
    }

    /// One tick of simulated time: faults and workload (if `chaos`), ticks, delivery, Ready.
    func step(chaos: Bool) throws {
        now += 1
        if chaos { try injectFaults() }
        try workload(chaos: chaos)
        for n in nodes { n.raft?.tick() }
        try deliverDue()
        for n in nodes { try drainReady(n) }
        try checkCommitDurability()
        try operatorDuties()
    }

    private func chance(_ perMille: UInt64) -> Bool { rng.below(1000) < perMille }

    private func pick<T>(_ xs: [T]) -> T? { xs.isEmpty ? nil : xs[Int(rng.below(UInt64(xs.count)))] }

    private func injectFaults() throws {
        let members = nodes.filter { $0.joined && !$0.retired }
        if chance(15), let victim = pick(members.filter { $0.isUp }) { crash(victim) }
        if chance(60), let back = pick(members.filter { !$0.isUp }) { try start(back) }
        if chance(20) {
            // Partition: random halves, or isolate the leader.
            if chance(500), let l = leader {
                for i in group.indices { group[i] = 0 }
                group[Int(l.id - 1)] = 1
            } else {
                for i in group.indices { group[i] = Int(rng.below(2)) }
            }
        }
        if chance(40) { for i in group.indices { group[i] = 0 } }
        if chance(30) {
            dropPerMille = [0, 0, 50, 150, 300][Int(rng.below(5))]
            dupPerMille = [0, 20, 100][Int(rng.below(3))]
            maxDelay = [1, 3, 5][Int(rng.below(3))]
        }
    }

    private func workload(chaos: Bool) throws {
        guard chaos else { return }
        let up = upNodes
        if chance(300), let n = pick(up), let raft = n.raft {
            proposalCounter += 1
            var batch: [[UInt8]] = []
            for k in 0..<(1 + Int(rng.below(3))) {
                batch.append(encodeStateHash(proposalCounter &* 16 &+ UInt64(k)))
            }
            do {
                try raft.propose(batch: batch)
                stats.proposals += 1
            } catch let e as RaftError where e == .proposalDropped {}
        }
        if chance(40), let n = pick(up), let raft = n.raft {
            proposalCounter += 1
            let ctx = encodeStateHash(proposalCounter)
            if (try? raft.readIndex(context: ctx)) != nil { pendingReads[ctx] = checker.maxCommitted }
        }
        if chance(8), let l = leader, let raft = l.raft, let target = pick(clusterConf.voters) {
            raft.transferLeader(to: target)
        }
        if chance(25) { try membershipChange() }
        if chance(60), let n = pick(up.filter { $0.unsynced == nil }) { try takeSnapshot(n) }
    }

    /// Snapshot at the applied index and compact, keeping a short tail so slow followers sometimes
    /// still catch up from the log and sometimes need the snapshot.
    func takeSnapshot(_ n: SimNode) throws {
        // Only from a state whose entries are all durable in the storage (no write outstanding).
        guard let raft = n.raft, n.unsynced == nil else { return }
        let snapIndex = n.storage.currentSnapshot.metadata.index
        guard n.appliedIndex > snapIndex + 4 else { return }
        try n.storage.createSnapshot(index: n.appliedIndex, confState: raft.appliedConfState,
                                     data: encodeStateHash(n.appliedHash))
        let keep = rng.below(4)
        if n.appliedIndex - keep > snapIndex + 1 { try n.storage.compact(n.appliedIndex - keep) }
        stats.snapshots += 1
    }

    private func membershipChange() throws {
        guard pendingChange == nil, let l = leader, let raft = l.raft else { return }
        let maxVoters = params.voters + 1
        var cc: ConfChange?
        if let learner = clusterConf.learners.first {
            cc = ConfChange(type: .addNode, nodeID: learner)
        } else if clusterConf.voters.count < maxVoters,
                  let spare = nodes.first(where: { !$0.retired && !clusterConf.isMember($0.id) }) {
            spare.joined = true
            if !spare.isUp { try start(spare) }
            cc = ConfChange(type: .addLearnerNode, nodeID: spare.id)
        } else if clusterConf.voters.count > max(1, params.voters - 1) {
            // Sometimes the leader itself — but not out of two voters: a leader that appended its own
            // removal and then lost leadership (CheckQuorum) before it committed wedges such a cluster
            // (it may not campaign, and refuses the other voter, whose log lacks the change). A known
            // liveness limitation of applying membership at append time, not what this harness tests.
            let others = clusterConf.voters.filter { $0 != l.id }
            let victim = (chance(400) && others.count >= 2) ? l.id : pick(others.count >= 2 ? clusterConf.voters : others)!
            cc = ConfChange(type: .removeNode, nodeID: victim)
        }
        guard let change = cc else { return }
        do {
            try raft.proposeConfChange(change)
            pendingChange = (change, now + 150)
        } catch let e as RaftError where e == .proposalDropped || e == .confChangeRefused {}
    }

    /// Retires removed members (as etcd shuts a removed member down) and expires stuck changes.
    private func operatorDuties() throws {
        for n in nodes where !n.retired {
            if clusterConf.isMember(n.id) {
                n.wasMember = true
            } else if n.wasMember {
                n.retired = true
                stop(n)
            }
        }
        if let p = pendingChange {
            let done: Bool
            switch p.cc.type {
            case .addNode: done = clusterConf.isVoter(p.cc.nodeID)
            case .addLearnerNode: done = clusterConf.isMember(p.cc.nodeID)
            case .removeNode: done = !clusterConf.isMember(p.cc.nodeID)
            }
            if done || now > p.deadline { pendingChange = nil }
        }
    }

    // MARK: - Liveness

    /// Heals every fault, then requires a leader to commit a fresh proposal and every live member to
    /// apply it within `params.livenessBound` ticks.
    func healAndCheckLiveness() throws {
        for i in group.indices { group[i] = 0 }
        dropPerMille = 0
        dupPerMille = 0
        maxDelay = 2
        for n in nodes where n.joined && !n.retired && !n.isUp { try start(n) }
        proposalCounter += 1
        marker = encodeStateHash(0xFEED_0000_0000_0000 | proposalCounter)
        let start = now
        while now - start < params.livenessBound {
            try step(chaos: false)
            if markerIndex == nil, now % 5 == 0, let l = leader, let raft = l.raft { try? raft.propose(marker!) }
            if let mi = markerIndex,
               nodes.allSatisfy({ !clusterConf.isMember($0.id) || $0.appliedIndex >= mi }) {
                livenessTicks = now - start
                return
            }
        }
        let states = nodes.map { n -> String in
            guard let r = n.raft else { return "\(n.id):\(n.retired ? "retired" : n.joined ? "down" : "spare")" }
            let s = r.status
            return "\(n.id):\(s.softState.role) t\(s.hardState.term) c\(s.hardState.commit) a\(n.appliedIndex) conf\(s.confState.voters)/\(s.confState.learners)"
        }
        throw SimFailure(description: "no progress within \(params.livenessBound) ticks after healing (marker index \(markerIndex.map(String.init) ?? "none"), cluster \(clusterConf.voters)/\(clusterConf.learners)); nodes: \(states.joined(separator: ", "))")
    }

    func run() throws {
        for _ in 0..<params.chaosSteps { try step(chaos: true) }
        try healAndCheckLiveness()
    }
}
