import Atomics
import Foundation
import Logging
import MVCC
import WAL

/// The one write path. A mutation is a proposal: the log stage appends a whole batch of them to the WAL
/// with one write and one fdatasync (group commit), then the apply stage applies the batch to the MVCC
/// store in one backend transaction that also records the consistent index, and only then answers.
/// Two threads so that fsync of batch N+1 overlaps the apply of batch N.
///
/// On one member the log is trivially committed once durable; Raft replaces the log stage's "commit"
/// without changing this shape.
final class WritePipeline: @unchecked Sendable {  // stage state is owned by its thread
    struct Proposal: Sendable {
        let op: WriteOp
        let data: [UInt8]
        let done: @Sendable (ApplyResult) -> Void
    }

    struct Limits: Sendable {
        /// Proposals waiting for the log stage before we answer "too many requests".
        var maxPending = 16_384
        /// Proposals written per WAL batch.
        var maxBatch = 4096
        /// WAL batches waiting for the apply stage before the log stage blocks.
        var maxApplyBacklog = 8
        /// How often the backend (which commits without fsync) is synced.
        var backendSyncInterval: TimeInterval = 1
    }

    private let wal: WAL
    private let store: MVCCStore
    private let logger: Logger
    private let limits: Limits
    private let pending: SignalQueue<Proposal>
    private let toApply: SignalQueue<[(index: UInt64, proposal: Proposal)]>
    let term: UInt64
    let memberID: UInt64
    /// Next log index; owned by the log stage.
    private var nextIndex: UInt64
    private var logThread: Thread?
    private var applyThread: Thread?
    private let stopped = DispatchSemaphore(value: 0)
    /// Set once if the WAL fails: the member stops accepting writes (durability can't be promised).
    private let failure = OnceFlag()

    init(wal: WAL, store: MVCCStore, term: UInt64, memberID: UInt64, lastIndex: UInt64, logger: Logger,
         limits: Limits = Limits()) {
        self.wal = wal
        self.store = store
        self.term = term
        self.memberID = memberID
        self.nextIndex = lastIndex + 1
        self.logger = logger
        self.limits = limits
        self.pending = SignalQueue(capacity: limits.maxPending)
        self.toApply = SignalQueue(capacity: limits.maxApplyBacklog)
    }

    func start() {
        let log = Thread { [self] in runLogStage() }
        log.name = "keel-wal"
        let apply = Thread { [self] in runApplyStage() }
        apply.name = "keel-apply"
        logThread = log
        applyThread = apply
        log.start()
        apply.start()
    }

    /// Queues a mutation; `done` runs on the apply thread once it is durable and applied (or failed).
    func propose(_ op: WriteOp, data: [UInt8], done: @escaping @Sendable (ApplyResult) -> Void) -> EtcdServerError? {
        if failure.isSet { return .stopped }
        return pending.tryPush(Proposal(op: op, data: data, done: done)) ? nil : .tooManyRequests
    }

    /// Finishes what was proposed, then stops both stages and syncs the backend.
    func stop() {
        pending.close()
        stopped.wait()
        try? store.backend.sync()
        try? wal.close()
    }

    // MARK: Log stage

    private func runLogStage() {
        var batch: [Proposal] = []
        batch.reserveCapacity(limits.maxBatch)
        var entries: [WALEntry] = []
        entries.reserveCapacity(limits.maxBatch)
        while pending.take(max: limits.maxBatch, into: &batch) {
            if failure.isSet {
                for p in batch { p.done(Self.failed(.stopped)) }
                batch.removeAll(keepingCapacity: true)
                continue
            }
            var numbered: [(index: UInt64, proposal: Proposal)] = []
            numbered.reserveCapacity(batch.count)
            for proposal in batch {
                entries.append(WALEntry(term: term, index: nextIndex, kind: 0, data: proposal.data))
                numbered.append((nextIndex, proposal))
                nextIndex += 1
            }
            do {
                try wal.save(entries: entries, hardState: WALHardState(term: term, vote: memberID, commit: nextIndex - 1))
                _ = toApply.push(numbered)
            } catch {
                // A WAL we cannot write is the end of this member's write path, as in etcd.
                logger.critical("failed to write to the WAL; refusing further writes", metadata: ["error": "\(error)"])
                failure.set()
                for p in batch { p.done(Self.failed(.stopped)) }
                nextIndex -= UInt64(batch.count)
            }
            entries.removeAll(keepingCapacity: true)
            batch.removeAll(keepingCapacity: true)
        }
        toApply.close()
    }

    // MARK: Apply stage

    private func runApplyStage() {
        var batches: [[(index: UInt64, proposal: Proposal)]] = []
        var ops: [(index: UInt64, op: WriteOp)] = []
        var lastSync = Date()
        while toApply.take(max: limits.maxApplyBacklog, into: &batches) {
            for batch in batches { for item in batch { ops.append((item.index, item.proposal.op)) } }
            let results = store.applyBatch(ops)
            precondition(results.count == ops.count, "applyBatch must answer every entry")
            var i = 0
            for batch in batches {
                for item in batch {
                    item.proposal.done(results[i])
                    i += 1
                }
            }
            ops.removeAll(keepingCapacity: true)
            batches.removeAll(keepingCapacity: true)
            if -lastSync.timeIntervalSinceNow >= limits.backendSyncInterval {
                try? store.backend.sync()
                lastSync = Date()
            }
        }
        stopped.signal()
    }

    static func failed(_ error: EtcdServerError) -> ApplyResult {
        ApplyResult(outcome: .failed(EtcdError(code: error.status.code.rawValue, message: error.status.message)), revision: 0)
    }
}

/// A flag set once, read from any thread on every proposal (so an atomic, not a lock).
final class OnceFlag: Sendable {
    private let value = ManagedAtomic(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
