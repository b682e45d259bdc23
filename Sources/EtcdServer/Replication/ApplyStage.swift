import Backend
import Foundation
import Logging
import MVCC
import Raft
import Synchronization

/// The outcome a proposer waits for.
enum ProposalOutcome: Sendable {
    case applied(ApplyResult)
    /// An alarm entry was applied: the alarm it activated or deactivated (nil: nothing changed).
    case alarm(AlarmMember?)
    case failed(EtcdServerError)
}

/// Work the Raft loop hands to the applier, in log order.
enum ApplyWork: Sendable {
    case entries([Entry])
    /// Replace the state machine with the image received with a snapshot at `index`.
    case snapshot(index: UInt64, image: String)
}

/// Applies committed entries, in order, on its own thread, so that applying batch N overlaps the WAL
/// sync of batch N+1. Every member applies the same log to the same state: the MVCC store, and the
/// membership (conf changes and published attributes). The proposer's waiter is completed here.
///
/// When the stage is idle (nothing handed to it is still unapplied), the Raft loop may apply small batches
/// itself (`applyInlineIfIdle`): a lone client then waits for no thread wake-up between the fsync and its
/// answer, and under load the hand-off keeps apply and fsync overlapped.
final class ApplyStage: @unchecked Sendable {  // apply state is owned by whoever holds `applying`
    private let store: MVCCStore
    private let members: MemberRegistry
    private let waiters: Waiters<ProposalOutcome>
    private let reads: ReadIndexBatcher
    private let published: RaftPublished
    private let logger: Logger
    let queue: SignalQueue<ApplyWork>
    private let done = DispatchSemaphore(value: 0)
    /// Held while applying, by the apply thread or by the Raft loop applying inline.
    private let applying = Mutex(())
    /// Work handed to the queue and not yet applied: inline apply is allowed only at 0, so it never overtakes.
    private let unapplied = Atomic<Int>(0)
    /// Scratch buffers of a batch, reused; only touched while `applying` is held.
    private var ops: [(index: UInt64, op: WriteOp)] = []
    private var ids: [UInt64] = []
    private var callers: [AuthCaller?] = []
    private var completions: [(id: UInt64, result: ProposalOutcome)] = []
    /// Term of the last entry gathered for the backend: stored with the consistent index.
    private var lastTerm: UInt64 = 0
    /// Syncs the backend and drops its mapped pages once per `backendSyncInterval`, beside applies.
    private let flusher: BackendFlusher
    /// Called (on the apply thread) after a change to the membership was applied.
    private let onMembershipChange: @Sendable (MemberChange) -> Void

    enum MemberChange: Sendable {
        case added(MemberInfo)
        case removed(UInt64)
        case updated(MemberInfo)
        case restored
    }

    /// Synced watchers, fed from every applied batch once it is published.
    private let watches: WatchHub
    /// Lease clocks: grants start one, checkpoints restart one, revocations end one.
    private let leases: LeaseSchedule
    /// Simple tokens minted or ended by applied auth entries.
    private let tokens: AuthTokenProvider

    init(store: MVCCStore, members: MemberRegistry, waiters: Waiters<ProposalOutcome>, reads: ReadIndexBatcher,
         published: RaftPublished, watches: WatchHub, leases: LeaseSchedule, tokens: AuthTokenProvider, logger: Logger,
         backlog: Int = 64, backendSyncInterval: TimeInterval = 1,
         onMembershipChange: @escaping @Sendable (MemberChange) -> Void) {
        self.store = store
        self.members = members
        self.waiters = waiters
        self.reads = reads
        self.published = published
        self.watches = watches
        self.leases = leases
        self.tokens = tokens
        self.logger = logger
        self.queue = SignalQueue(capacity: backlog)
        self.flusher = BackendFlusher(backend: store.backend, interval: backendSyncInterval)
        self.onMembershipChange = onMembershipChange
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "keel-apply"
        t.start()
        flusher.start()
    }

    /// Applies what was queued, then stops (the queue must have been closed).
    func waitUntilDone() { done.wait() }

    /// Syncs the backend beside applies; `done` (on the flusher's thread) says whether everything committed
    /// before the call is now on disk.
    func syncBackend(then done: @escaping @Sendable (Bool) -> Void) { flusher.syncSoon(then: done) }

    /// Hands `work` to the apply thread (waits while its queue is full); false once closed.
    func enqueue(_ work: ApplyWork) -> Bool {
        unapplied.add(1, ordering: .sequentiallyConsistent)
        if queue.push(work) { return true }
        unapplied.subtract(1, ordering: .sequentiallyConsistent)
        return false
    }

    /// Applies `entries` on the calling thread (the Raft loop) when nothing handed off earlier is still
    /// unapplied and the apply thread is not busy; false leaves them to `enqueue`.
    func applyInlineIfIdle(_ entries: [Entry]) -> Bool {
        guard unapplied.load(ordering: .sequentiallyConsistent) == 0 else { return false }
        return applying.withLockIfAvailable { _ -> Bool in
            guard unapplied.load(ordering: .sequentiallyConsistent) == 0 else { return false }
            applyEntries(entries, ops: &ops, ids: &ids, callers: &callers)
            return true
        } ?? false
    }

    private func run() {
        var work: [ApplyWork] = []
        while queue.take(max: 64, into: &work) {
            applying.withLock { _ in
                for w in work {
                    switch w {
                    case .entries(let entries):
                        applyEntries(entries, ops: &ops, ids: &ids, callers: &callers)
                    case .snapshot(let index, let image):
                        installSnapshot(index: index, image: image)
                    }
                }
            }
            unapplied.subtract(work.count, ordering: .sequentiallyConsistent)
            work.removeAll(keepingCapacity: true)
        }
        flusher.stop()
        applying.withLock { _ in try? store.backend.sync() }
        done.signal()
    }

    private func applyEntries(_ entries: [Entry], ops: inout [(index: UInt64, op: WriteOp)], ids: inout [UInt64],
                              callers: inout [AuthCaller?]) {
        for e in entries {
            switch e.type {
            case .normal where e.data.isEmpty:
                ops.append((e.index, .noop))  // a new leader's empty entry
                lastTerm = e.term
                ids.append(0)
                callers.append(nil)
            case .normal:
                let decoded: (id: UInt64, request: InternalRequestCodec.LogRequest, caller: AuthCaller?)
                do { decoded = try InternalRequestCodec.decodeEntry(e.data) } catch {
                    // Every member decodes the same bytes the same way, so skipping keeps them equal.
                    logger.error("undecodable log entry skipped", metadata: ["index": "\(e.index)", "error": "\(error.status.message)"])
                    ops.append((e.index, .noop))
                    lastTerm = e.term
                    ids.append(0)
                    callers.append(nil)
                    continue
                }
                switch decoded.request {
                case .write(let op):
                    ops.append((e.index, op))
                    lastTerm = e.term
                    ids.append(decoded.id)
                    callers.append(decoded.caller)
                case .memberAttributes(let id, let name, let clientURLs):
                    flush(&ops, &ids, &callers)
                    if var m = members.member(id) {
                        m.name = name
                        m.clientURLs = clientURLs
                        persist { try members.upsert(m, backend: store.backend) }
                        onMembershipChange(.updated(m))
                    }
                    finishSingle(e, id: decoded.id)
                case .alarm(let activate, let memberID, let type):
                    flush(&ops, &ids, &callers)
                    let member = AlarmMember(memberID: memberID, alarm: AlarmType(rawValue: type))
                    var changed: AlarmMember?
                    if e.index > store.consistentIndex && type != AlarmType.none.rawValue {
                        persist {
                            if activate {
                                _ = try store.backend.activateAlarm(member)
                                changed = member  // etcd answers the alarm, new or already active
                                logger.warning("alarm raised", metadata: ["alarm": "\(type)", "member": "\(hex(memberID))"])
                            } else if try store.backend.deactivateAlarm(member) {
                                changed = member
                                logger.info("alarm disarmed", metadata: ["alarm": "\(type)", "member": "\(hex(memberID))"])
                            }
                        }
                    }
                    finishSingle(e, id: 0)
                    if decoded.id != 0 { waiters.complete(decoded.id, .alarm(changed)) }
                case .memberPeerURLs(let id, let peerURLs):
                    flush(&ops, &ids, &callers)
                    if var m = members.member(id) {
                        m.peerURLs = peerURLs
                        persist { try members.upsert(m, backend: store.backend) }
                        onMembershipChange(.updated(m))
                    }
                    finishSingle(e, id: decoded.id)
                }
            case .confChange:
                flush(&ops, &ids, &callers)
                applyConfChange(e)
            }
        }
        flush(&ops, &ids, &callers)
    }

    /// Membership entries write the members bucket first, then advance the consistent index: a crash
    /// in between replays the entry, and applying it twice gives the same members.
    private func applyConfChange(_ e: Entry) {
        guard let cc = try? ConfChange.decode(e.data) else {
            logger.error("undecodable conf change skipped", metadata: ["index": "\(e.index)"])
            finishSingle(e, id: 0)
            return
        }
        let ctx = try? ConfChangeContext.decode(cc.context)
        if e.index > store.consistentIndex {
            switch cc.type {
            case .addNode, .addLearnerNode:
                var m = members.member(cc.nodeID) ?? ctx?.member
                    ?? MemberInfo(id: cc.nodeID, name: "", peerURLs: [], clientURLs: [], isLearner: false)
                // A learner entry may carry a voter still catching up (isLearner false in its context).
                m.isLearner = cc.type == .addLearnerNode && (ctx?.member.isLearner ?? true)
                if let peers = ctx?.member.peerURLs, !peers.isEmpty { m.peerURLs = peers }
                let member = m
                persist { try members.upsert(member, backend: store.backend) }
                onMembershipChange(.added(member))
            case .removeNode:
                persist { try members.remove(cc.nodeID, backend: store.backend) }
                onMembershipChange(.removed(cc.nodeID))
            }
        }
        finishSingle(e, id: ctx?.requestID ?? 0)
    }

    /// Applies one entry alone (membership, alarms): its consistent index is recorded like any other's.
    private func finishSingle(_ e: Entry, id: UInt64) {
        var ops = [(index: e.index, op: WriteOp.noop)]
        var ids = [id]
        var callers: [AuthCaller?] = [nil]
        lastTerm = e.term
        flush(&ops, &ids, &callers)
    }

    private func flush(_ ops: inout [(index: UInt64, op: WriteOp)], _ ids: inout [UInt64], _ callers: inout [AuthCaller?]) {
        guard let last = ops.last?.index else { return }
        let results = store.applyBatch(ops, callers: callers, term: lastTerm)
        precondition(results.count == ops.count, "applyBatch must answer every entry")
        published.setApplied(max(last, store.consistentIndex))
        // One notification per applied batch, not per entry: each watcher then gets one response (one
        // event-loop hop) for all the revisions it covers, as etcd batches its watch responses.
        var batchEvents: [Event] = []
        var batchRevision: Int64 = 0
        for r in results where !r.events.isEmpty && !watches.isEmpty {
            batchEvents.append(contentsOf: r.events)
            batchRevision = max(batchRevision, r.revision)
        }
        if !batchEvents.isEmpty { watches.notify(batchEvents, revision: batchRevision) }
        for r in results {
            guard case .applied(let response) = r.outcome else { continue }
            switch response {
            case .leaseGrant(let id, let ttl): leases.granted(id, ttl: ttl)
            case .leaseRevoke(let id): leases.revoked(id)
            case .leaseCheckpoint(let checkpoints): leases.checkpointed(checkpoints)
            case .auth(.authenticated(let name, let token)): tokens.applied(name: name, simpleToken: token)
            case .auth(.userInvalidated(let name)): tokens.invalidate(user: name)
            case .auth(.disabled): tokens.disable()
            default: break
            }
        }
        for (i, id) in ids.enumerated() where id != 0 { completions.append((id, .applied(results[i]))) }
        waiters.completeAll(completions)
        completions.removeAll(keepingCapacity: true)
        reads.applied(published.applied)
        ops.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
        callers.removeAll(keepingCapacity: true)
    }

    private func installSnapshot(index: UInt64, image: String) {
        let previousRevision = store.currentRevision
        do {
            try store.restore(fromImage: image)
            try members.load(from: store.backend)
            try store.backend.sync()
        } catch {
            // Carrying on would serve a state that matches no log: stop, as etcd does.
            logger.critical("failed to install the snapshot image; stopping", metadata: ["index": "\(index)", "error": "\(error)"])
            fatalError("failed to install snapshot at index \(index): \(error)")
        }
        try? FileManager.default.removeItem(atPath: image)
        published.setApplied(max(index, store.consistentIndex))
        logger.info("applied incoming snapshot", metadata: ["index": "\(index)", "consistent-index": "\(store.consistentIndex)"])
        onMembershipChange(.restored)
        leases.restore(from: store)
        watches.storeRestored(previousRevision: previousRevision)
        reads.applied(published.applied)
    }

    /// A backend that cannot record the membership makes this member diverge: stop instead.
    private func persist(_ body: () throws -> Void) {
        do { try body() } catch {
            logger.critical("failed to persist membership; stopping", metadata: ["error": "\(error)"])
            fatalError("failed to persist membership: \(error)")
        }
    }
}
