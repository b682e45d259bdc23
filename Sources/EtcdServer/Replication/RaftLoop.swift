import Foundation
import Logging
import MVCC
import NIOConcurrencyHelpers
import NIOCore
import Raft
import WAL

/// What reaches the Raft loop from other threads.
enum RaftInput: Sendable {
    case propose(data: [UInt8], id: UInt64)
    case confChange(ConfChange, id: UInt64)
    case message(Message)
    /// A snapshot message whose state-machine image is already on disk.
    case snapshotMessage(Message, image: String)
    case unreachable(UInt64)
    case snapshotStatus(UInt64, SnapshotStatus)
    case transferLeader(UInt64)
    /// Reads are waiting for a ReadIndex round.
    case readsWaiting
    /// Start an election now (a lone voter at start-up).
    case campaign
    /// Let `n` ticks elapse at once (etcd's --initial-election-tick-advance).
    case advanceTicks(Int)
    /// The backend sync a snapshot asked for has finished (false: it failed).
    case backendSynced(Bool)
}

/// The one thread that owns Raft: the RawNode, its MemoryStorage and the WAL. Each turn it steps in
/// everything queued (proposals of one turn become one batch), ticks on time, then handles each
/// `Ready` in the order that keeps acknowledged writes safe:
///   1. a leader's appends go out before its own fsync (Raft §10.2.1: the leader counts its own entries
///      only once persisted, which the core learns at `advance`);
///   2. entries, hard state and snapshot mark are written to the WAL, fsynced when `mustSync`;
///   3. every other message goes out only after that (votes and append acks promise persisted state);
///   4. committed entries go to the applier (which overlaps the next turn's fsync); `advance`.
final class RaftLoop: @unchecked Sendable {  // all mutable state is owned by the loop thread
    struct Settings: Sendable {
        var tickInterval: TimeAmount
        var electionTicks: Int
        var snapshotCount: UInt64
        /// Entries kept in memory behind a snapshot so a slightly lagging follower catches up from the log.
        var catchUpEntries: UInt64
        var maxSnapshots: Int
        var maxWALs: Int
        var maxInbox = 65_536
        var maxBatch = 8192
        var requestTimeout: TimeAmount
    }

    let id: UInt64
    let settings: Settings
    private let node: RawNode
    private let storage: MemoryStorage
    private let wal: WAL
    private let snapDir: String
    private let store: MVCCStore
    let inbox: SignalQueue<RaftInput>
    private let published: RaftPublished
    private let waiters: Waiters<ProposalOutcome>
    private let reads: ReadIndexBatcher
    private let applier: ApplyStage
    private let members: MemberRegistry
    private let logger: Logger
    /// Sends messages to peers; set before `start` for a multi-member cluster.
    var send: @Sendable ([Message]) -> Void = { _ in }
    /// Called once the WAL failed (write or fsync); the server ends the process there, as etcd does.
    var onWALFailure: @Sendable () -> Void = {}

    private let stopped = DispatchSemaphore(value: 0)
    private var snapshotIndex: UInt64
    /// Membership as of each handed-off conf change, to know the membership at a snapshot index.
    private var confHistory: [(index: UInt64, conf: ConfState)]
    private var handedOff: UInt64
    /// Images of incoming snapshots, by index, until Raft installs (or ignores) them.
    private var pendingImages: [UInt64: String] = [:]
    private var lastLead: UInt64 = raftNoNode

    init(node: RawNode, storage: MemoryStorage, wal: WAL, snapDir: String, store: MVCCStore, settings: Settings,
         published: RaftPublished, waiters: Waiters<ProposalOutcome>, reads: ReadIndexBatcher, applier: ApplyStage,
         members: MemberRegistry, snapshotIndex: UInt64, applied: UInt64, logger: Logger) {
        self.members = members
        self.id = node.id
        self.node = node
        self.storage = storage
        self.wal = wal
        self.snapDir = snapDir
        self.store = store
        self.settings = settings
        self.published = published
        self.waiters = waiters
        self.reads = reads
        self.applier = applier
        self.logger = logger
        self.inbox = SignalQueue(capacity: settings.maxInbox)
        self.snapshotIndex = snapshotIndex
        self.handedOff = applied
        self.confHistory = [(applied, node.appliedConfState)]
        let st = node.status
        confBox = NIOLockedValueBox(st.confState)
        published.setTerm(st.hardState.term)
        published.setCommitted(st.hardState.commit)
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "keel-raft"
        t.start()
    }

    /// Stops taking input, finishes the turn, drains the applier, syncs.
    func stop() {
        inbox.close()
        stopped.wait()
    }

    // MARK: Proposing (any thread)

    /// Queues a log entry for `id`; `done` runs once it is applied here, or failed: on `loop` if given
    /// (batched with the loop's other answers), else on the thread that completes it.
    func propose(_ data: [UInt8], id: UInt64, on loop: EventLoop? = nil,
                 done: @escaping @Sendable (ProposalOutcome) -> Void) -> EtcdServerError? {
        submit(.propose(data: data, id: id), id: id, on: loop, done)
    }

    func proposeConfChange(_ cc: ConfChange, id: UInt64, on loop: EventLoop? = nil,
                           done: @escaping @Sendable (ProposalOutcome) -> Void) -> EtcdServerError? {
        submit(.confChange(cc, id: id), id: id, on: loop, done)
    }

    /// Registers the waiter, then queues the input; a refusal before queueing is returned, after it the
    /// waiter is failed.
    private func submit(_ input: RaftInput, id: UInt64, on loop: EventLoop?,
                        _ done: @escaping @Sendable (ProposalOutcome) -> Void) -> EtcdServerError? {
        if !published.hasLeader { return .noLeader }
        let deadline = NIODeadline.now() + settings.requestTimeout
        guard waiters.register(id, deadline: deadline, limit: settings.maxInbox, on: loop, done) else { return .tooManyRequests }
        if !inbox.tryPush(input) { waiters.complete(id, .failed(.tooManyRequests)) }
        return nil
    }

    /// Serves `read` once a ReadIndex round confirms this member is up to date.
    func linearizableRead(_ read: @escaping ReadIndexBatcher.Read) {
        let (accepted, wake) = reads.add(deadline: .now() + settings.requestTimeout, read)
        guard accepted else { return read(.tooManyRequests) }
        if wake { _ = inbox.tryPush(.readsWaiting) }
    }

    /// The other members Raft knows (voters and learners), as of the loop's last turn.
    var peerIDs: [UInt64] { confBox.withLockedValue { $0 }.members.filter { $0 != id } }

    /// The voter, other than this member, holding the most of the log as this leader last saw it: whom a
    /// stopping leader hands leadership to (etcd's TransferLeadership on shutdown). nil when not leading.
    var bestTransferee: UInt64? {
        let progress = progressBox.withLockedValue { $0 }
        return progress.filter { $0.key != id && !$0.value.isLearner }.max { $0.value.match < $1.value.match }?.key
    }

    /// etcd's isLearnerReady: the learner holds at least 90% of the leader's log. nil when this
    /// member does not lead (only the leader knows).
    func learnerIsReady(_ learner: UInt64) -> Bool? {
        let progress = progressBox.withLockedValue { $0 }
        guard let leader = progress[id], let p = progress[learner] else { return nil }
        return Double(p.match) >= Double(leader.match) * 0.9
    }
    private let progressBox = NIOLockedValueBox([UInt64: PeerProgress]())
    private let confBox: NIOLockedValueBox<ConfState>

    // MARK: The loop

    private func run() {
        var batch: [RaftInput] = []
        var proposals: [[UInt8]] = []
        var proposalIDs: [UInt64] = []
        var nextTick = NIODeadline.now() + settings.tickInterval
        var readRoundWanted = false
        while true {
            let now = NIODeadline.now()
            let wait = nextTick > now ? nextTick - now : .zero
            let open = inbox.take(max: settings.maxBatch, into: &batch, timeout: wait)
            if !open && batch.isEmpty { break }
            for input in batch {
                switch input {
                case .propose(let data, let id):
                    proposals.append(data)
                    proposalIDs.append(id)
                case .confChange(let cc, let id):
                    proposeOrDefer(cc, id: id)
                case .message(let m):
                    try? node.step(m)
                case .snapshotMessage(let m, let image):
                    acceptImage(m, image)
                    try? node.step(m)
                case .unreachable(let peer):
                    node.reportUnreachable(peer)
                case .snapshotStatus(let peer, let status):
                    node.reportSnapshot(peer, status: status)
                case .transferLeader(let to):
                    node.transferLeader(to: to)
                case .readsWaiting:
                    readRoundWanted = true
                case .campaign:
                    try? node.campaign()
                case .advanceTicks(let n):
                    for _ in 0..<n { node.tick() }
                case .backendSynced(let ok):
                    recordSnapshot(backendSynced: ok)
                }
            }
            batch.removeAll(keepingCapacity: true)
            if !proposals.isEmpty {
                do { try node.propose(batch: proposals) } catch {
                    let e = Self.mapProposalError(error, hasLeader: lastLead != raftNoNode)
                    for id in proposalIDs { waiters.complete(id, .failed(e)) }
                }
                proposals.removeAll(keepingCapacity: true)
                proposalIDs.removeAll(keepingCapacity: true)
            }
            let after = NIODeadline.now()
            if after >= nextTick {
                node.tick()
                nextTick = after + settings.tickInterval
                let progress = node.progress
                progressBox.withLockedValue { $0 = progress }
                retryDeferredConfChanges()
                promoteCaughtUpVoters(progress, now: after)
                waiters.expire(now: after, with: .failed(.timeout))
                if reads.sweep(now: after, retryAfter: settings.tickInterval * Int64(settings.electionTicks), timeout: .timeout) {
                    readRoundWanted = true
                }
            }
            if readRoundWanted {
                readRoundWanted = false
                startReadRound()
            }
            while node.hasReady {
                guard handleReady() else { return finish() }
            }
            maybeSnapshot()
        }
        finish()
    }

    private func finish() {
        applier.queue.close()
        applier.waitUntilDone()
        try? wal.close()
        waiters.failAll(.failed(.stopped))
        reads.failAll(.stopped)
        stopped.signal()
    }

    /// Raft takes one membership change at a time. A client's change that meets one still pending (often
    /// our own promotion of a learner that `member add` asked to be a voter) waits for it here, in order,
    /// rather than failing: etcd's clients see no such internal change. It is retried each tick, and
    /// leaves the queue when it goes through, fails otherwise, or its waiter times out.
    private func proposeOrDefer(_ cc: ConfChange, id: UInt64) {
        guard deferredConfChanges.isEmpty else { return deferredConfChanges.append((cc, id)) }
        do { try node.proposeConfChange(cc) } catch RaftError.confChangeRefused where lastLead == self.id {
            logger.info("membership change waits for the pending one", metadata: ["request": "\(hex(id))"])
            deferredConfChanges.append((cc, id))
        } catch {
            waiters.complete(id, .failed(Self.mapProposalError(error, hasLeader: lastLead != raftNoNode)))
        }
    }

    private func retryDeferredConfChanges() {
        while let (cc, id) = deferredConfChanges.first {
            guard waiters.isWaiting(id) else { deferredConfChanges.removeFirst(); continue }
            do { try node.proposeConfChange(cc) } catch RaftError.confChangeRefused where lastLead == self.id {
                return
            } catch {
                waiters.complete(id, .failed(Self.mapProposalError(error, hasLeader: lastLead != raftNoNode)))
            }
            deferredConfChanges.removeFirst()
        }
    }
    private var deferredConfChanges: [(ConfChange, UInt64)] = []

    /// Voters added by `member add` join Raft as learners (see ClusterServices.memberAdd); the leader
    /// promotes each once its log holds what the leader's held when it last looked (etcd's readiness rule),
    /// one conf change at a time, retrying after an election timeout if one did not go through.
    private func promoteCaughtUpVoters(_ progress: [UInt64: PeerProgress], now: NIODeadline) {
        guard let leader = progress[id] else { return }
        for (peer, p) in progress where p.isLearner && p.match > 0 && Double(p.match) >= Double(leader.match) * 0.9 {
            guard let member = members.member(peer), !member.isLearner else { continue }
            guard deferredConfChanges.isEmpty else { return }  // a client's change goes first
            if let last = promotionProposedAt[peer], now - last < settings.tickInterval * Int64(settings.electionTicks) { continue }
            promotionProposedAt[peer] = now
            let cc = ConfChange(type: .addNode, nodeID: peer, context: ConfChangeContext(requestID: 0, member: member).encoded())
            if (try? node.proposeConfChange(cc)) != nil {
                logger.info("promoting caught-up member to voter", metadata: ["member": "\(hex(peer))", "match": "\(p.match)"])
            }
            return
        }
    }
    private var promotionProposedAt: [UInt64: NIODeadline] = [:]

    private func startReadRound() {
        guard let ctx = reads.startRound(now: .now()) else { return }
        if lastLead == raftNoNode { return reads.failRound(ctx, .noLeader) }
        do { try node.readIndex(context: ctx) } catch { reads.failRound(ctx, .noLeader) }
    }

    /// One Ready. Returns false when the WAL failed (the member must stop writing).
    private func handleReady() -> Bool {
        let rd = node.ready()
        if let ss = rd.softState { noteSoftState(ss) }
        let isLeader = lastLead == id  // noteSoftState has seen this Ready's change, if any
        var later: [Message] = []
        if isLeader {
            var early: [Message] = []
            for m in rd.messages { if m.type == .app { early.append(m) } else { later.append(m) } }
            if !early.isEmpty { send(early) }
        } else {
            later = rd.messages
        }
        // Committed entries this member already holds on disk go to the applier before this Ready's
        // fsync, so applying them overlaps it (etcd does the same); entries only now being written wait
        // for it, so the backend can never get ahead of the WAL.
        var committed = rd.committedEntries[...]
        if rd.snapshot == nil, let persisted = try? storage.lastIndex() {
            let early = committed.prefix { $0.index <= persisted }
            if !early.isEmpty { handOff(early) }
            committed = committed.dropFirst(early.count)
        }
        do {
            if let snap = rd.snapshot { try persistSnapshot(snap) }
            try wal.save(entries: rd.entries.map(RaftPersistence.walEntry),
                         hardState: rd.hardState.map(RaftPersistence.walHardState), sync: rd.mustSync)
        } catch {
            logger.critical("failed to write to the WAL; stopping this member's write path", metadata: ["error": "\(error)"])
            onWALFailure()
            return false
        }
        if !rd.entries.isEmpty { try! storage.append(rd.entries) }
        if let hs = rd.hardState {
            storage.setHardState(hs)
            published.setTerm(hs.term)
        }
        if !later.isEmpty { send(later) }
        for rs in rd.readStates { reads.confirmed(rs.requestCtx, index: rs.index, applied: published.applied) }
        if let snap = rd.snapshot {
            let index = snap.metadata.index
            let image = pendingImages.removeValue(forKey: index) ?? RaftPersistence.imagePath(snapDir: snapDir, index: index)
            confHistory = [(index, snap.metadata.confState)]
            handedOff = index
            _ = applier.enqueue(.snapshot(index: index, image: image))
        }
        if !committed.isEmpty { handOff(committed) }
        node.advance(rd)
        let st = node.status
        if st.confState != confBox.withLockedValue({ $0 }) { confBox.withLockedValue { $0 = st.confState } }
        // While learners catch up, MemberPromote's readiness check needs fresh progress, not the last tick's.
        if st.softState.role == .leader && !st.confState.learners.isEmpty {
            let progress = node.progress
            progressBox.withLockedValue { $0 = progress }
        }
        published.setCommitted(st.hardState.commit)
        return true
    }

    /// Committed entries, in order, to the applier; membership changes are recorded for snapshots.
    private func handOff(_ entries: ArraySlice<Entry>) {
        for e in entries where e.type == .confChange {
            if let cc = try? ConfChange.decode(e.data) {
                let conf = node.applyConfChange(cc)
                confHistory.append((e.index, conf))
            }
        }
        handedOff = entries.last!.index
        let batch = Array(entries)
        if entries.count <= Self.maxInlineEntries, entries.allSatisfy(Self.appliesQuickly), applier.applyInlineIfIdle(batch) { return }
        _ = applier.enqueue(.entries(batch))
    }

    /// Inline apply is for a lone client's few entries, not for work that would hold up the Raft loop.
    static let maxInlineEntries = 8

    /// Entries whose apply is short: not a membership change (it reconfigures the transport) and not a
    /// compaction (it may delete many revisions).
    static func appliesQuickly(_ e: Entry) -> Bool {
        e.type == .normal && InternalRequestCodec.requestField(e.data) != InternalRequestCodec.Field.compaction.rawValue
    }

    private func noteSoftState(_ ss: SoftState) {
        published.setLead(ss.lead)
        if ss.lead != lastLead {
            if ss.lead == raftNoNode {
                logger.info("raft.node: \(hex(id)) lost leader \(hex(lastLead)) at term \(node.status.hardState.term)")
            } else if ss.lead == id {
                logger.info("raft.node: \(hex(id)) elected leader \(hex(id)) at term \(node.status.hardState.term)")
            } else {
                logger.info("raft.node: \(hex(id)) elected leader \(hex(ss.lead)) at term \(node.status.hardState.term)")
            }
            lastLead = ss.lead
        }
    }

    /// An incoming image is renamed to where a restart would find it, before Raft may accept it.
    private func acceptImage(_ m: Message, _ image: String) {
        guard let index = m.snapshot?.metadata.index else { return }
        let path = RaftPersistence.imagePath(snapDir: snapDir, index: index)
        if image != path {
            try? FileManager.default.removeItem(atPath: path)
            do { try FileManager.default.moveItem(atPath: image, toPath: path) } catch {
                logger.error("cannot keep snapshot image", metadata: ["error": "\(error)"])
                return
            }
        }
        // Older images can never be installed now.
        for (i, p) in pendingImages where i < index {
            try? FileManager.default.removeItem(atPath: p)
            pendingImages.removeValue(forKey: i)
        }
        pendingImages[index] = path
    }

    /// A leader's snapshot: its membership file, then the WAL's mark, then the in-memory log.
    private func persistSnapshot(_ snap: Snapshot) throws {
        let meta = snap.metadata
        try RaftPersistence.saveConfState(snapDir: snapDir, index: meta.index, term: meta.term, conf: meta.confState)
        try wal.saveSnapshotMark(WALSnapshotMark(index: meta.index, term: meta.term))
        try storage.applySnapshot(snap)
        snapshotIndex = meta.index
        logger.info("saved incoming snapshot", metadata: ["index": "\(meta.index)", "term": "\(meta.term)"])
    }

    /// After `--snapshot-count` applied entries: record a snapshot at the applied index. The backend holds
    /// the state, so it must be on disk first: the flusher syncs it beside the loop (an fsync of the data
    /// file, tens of milliseconds under load, stalled every write when it ran here), and the loop records the
    /// snapshot when it hears back (`recordSnapshot`).
    private func maybeSnapshot() {
        guard snapshotInFlight == nil else { return }
        let applied = min(published.applied, handedOff)
        guard settings.snapshotCount > 0, applied > snapshotIndex, applied - snapshotIndex >= settings.snapshotCount else { return }
        guard let term = try? storage.term(applied) else { return }
        let conf = confHistory.last { $0.index <= applied }?.conf ?? node.appliedConfState
        snapshotInFlight = (applied, term, conf)
        let inbox = self.inbox
        applier.syncBackend { ok in _ = inbox.push(.backendSynced(ok)) }
    }
    /// The snapshot waiting for its backend sync.
    private var snapshotInFlight: (index: UInt64, term: UInt64, conf: ConfState)?

    /// The backend is synced through the snapshot's index: write the membership file and the WAL's mark,
    /// compact the in-memory log behind a catch-up window, and release WAL segments and old snapshot files.
    /// An incoming snapshot installed meanwhile supersedes it.
    private func recordSnapshot(backendSynced ok: Bool) {
        guard let (index, term, conf) = snapshotInFlight else { return }
        snapshotInFlight = nil
        guard ok else { return logger.error("failed to save snapshot", metadata: ["error": "the backend sync failed"]) }
        guard index > snapshotIndex else { return }
        do {
            try RaftPersistence.saveConfState(snapDir: snapDir, index: index, term: term, conf: conf)
            try storage.createSnapshot(index: index, confState: conf, data: [])
            try wal.saveSnapshotMark(WALSnapshotMark(index: index, term: term))
            snapshotIndex = index
            if index > settings.catchUpEntries {
                let compactTo = index - settings.catchUpEntries
                if compactTo > (try storage.firstIndex()) { try storage.compact(compactTo) }
            }
            // Membership changes handed off since the request stay; the one in force at `index` leads.
            confHistory.removeAll { $0.index < index }
            if confHistory.first?.index != index { confHistory.insert((index, conf), at: 0) }
            // --max-wals / --max-snapshots: 0 keeps every file, as in etcd.
            if settings.maxWALs > 0 { try wal.releaseSegments(upTo: index, keepingAtLeast: settings.maxWALs) }
            if settings.maxSnapshots > 0 { try SnapshotFile.purge(directory: snapDir, keep: settings.maxSnapshots, markIndex: index) }
            logger.info("saved snapshot", metadata: ["snapshot-index": "\(index)"])
        } catch {
            logger.error("failed to save snapshot", metadata: ["error": "\(error)"])
        }
    }

    static func mapProposalError(_ error: Error, hasLeader: Bool) -> EtcdServerError {
        if !hasLeader { return .noLeader }
        if let e = error as? RaftError {
            switch e {
            case .confChangeRefused: return EtcdServerError(.failedPrecondition, "etcdserver: unhealthy cluster")
            case .proposalDropped: return .tooManyRequests
            default: break
            }
        }
        return EtcdServerError(.unavailable, "etcdserver: \(error)")
    }
}

func hex(_ v: UInt64) -> String { String(v, radix: 16) }
