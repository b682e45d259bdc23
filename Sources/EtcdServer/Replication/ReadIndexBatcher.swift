import NIOConcurrencyHelpers
import NIOCore

/// Linearizable reads, batched: every read waiting when the Raft loop comes round shares one ReadIndex
/// round (one heartbeat quorum), then each is served once this member has applied up to the index the
/// leader confirmed. A round that gets no answer is retried (the leader may have changed); reads that
/// waited past their deadline fail with etcd's "request timed out".
final class ReadIndexBatcher: Sendable {
    /// nil: serve now, from the local applied state. Otherwise the error to answer.
    typealias Read = @Sendable (EtcdServerError?) -> Void

    private struct Waiting {
        let deadline: NIODeadline
        let read: Read
    }
    private struct Round {
        var reads: [Waiting]
        var issuedAt: NIODeadline
    }
    private struct State {
        var pending: [Waiting] = []
        var inflight: [UInt64: Round] = [:]
        /// Confirmed rounds waiting for the applier, in index order.
        var confirmed: [(index: UInt64, reads: [Waiting])] = []
        var nextContext: UInt64 = 1
    }
    private let state = NIOLockedValueBox(State())
    let maxPending: Int

    init(maxPending: Int = 65_536) { self.maxPending = maxPending }

    /// Queues a read; returns false when too many wait. `wake` is called when the queue was empty
    /// (the Raft loop must come round).
    func add(deadline: NIODeadline, _ read: @escaping Read) -> (accepted: Bool, wake: Bool) {
        state.withLockedValue { s in
            guard s.pending.count < maxPending else { return (false, false) }
            s.pending.append(Waiting(deadline: deadline, read: read))
            return (true, s.pending.count == 1)
        }
    }

    /// Raft loop: takes the waiting reads into a new round; returns its context, nil if none wait.
    func startRound(now: NIODeadline) -> [UInt8]? {
        state.withLockedValue { s in
            guard !s.pending.isEmpty else { return nil }
            let ctx = s.nextContext
            s.nextContext += 1
            s.inflight[ctx] = Round(reads: s.pending, issuedAt: now)
            s.pending.removeAll(keepingCapacity: true)
            return Self.encode(ctx)
        }
    }

    /// Raft loop: the round could not be started (no leader): its reads fail now.
    func failRound(_ context: [UInt8], _ error: EtcdServerError) {
        let reads = state.withLockedValue { $0.inflight.removeValue(forKey: Self.decode(context))?.reads } ?? []
        for r in reads { r.read(error) }
    }

    /// Raft loop: the leader confirmed `index` for the round `context`.
    func confirmed(_ context: [UInt8], index: UInt64, applied: UInt64) {
        let ready: [Waiting] = state.withLockedValue { s in
            guard let round = s.inflight.removeValue(forKey: Self.decode(context)) else { return [] }
            if index <= applied { return round.reads }
            let at = s.confirmed.firstIndex { $0.index > index } ?? s.confirmed.count
            s.confirmed.insert((index, round.reads), at: at)
            return []
        }
        for r in ready { r.read(nil) }
    }

    /// Applier: everything confirmed at or below `applied` may be served.
    func applied(_ applied: UInt64) {
        let ready: [Waiting] = state.withLockedValue { s in
            guard let first = s.confirmed.first, first.index <= applied else { return [] }
            var out: [Waiting] = []
            while let f = s.confirmed.first, f.index <= applied {
                out.append(contentsOf: f.reads)
                s.confirmed.removeFirst()
            }
            return out
        }
        for r in ready { r.read(nil) }
    }

    /// Raft loop, on every tick: rounds older than `retryAfter` go back to pending (their answer was
    /// lost, e.g. with a leader change); reads past their deadline fail.
    /// Returns whether reads are pending (a new round should start).
    func sweep(now: NIODeadline, retryAfter: TimeAmount, timeout: EtcdServerError) -> Bool {
        var expired: [Waiting] = []
        let pending: Bool = state.withLockedValue { s in
            for (ctx, round) in s.inflight where now - round.issuedAt >= retryAfter {
                s.inflight.removeValue(forKey: ctx)
                s.pending.append(contentsOf: round.reads)
            }
            s.pending.removeAll { w in
                if w.deadline <= now { expired.append(w); return true }
                return false
            }
            for i in s.confirmed.indices {
                s.confirmed[i].reads.removeAll { w in
                    if w.deadline <= now { expired.append(w); return true }
                    return false
                }
            }
            s.confirmed.removeAll { $0.reads.isEmpty }
            return !s.pending.isEmpty
        }
        for w in expired { w.read(timeout) }
        return pending
    }

    func failAll(_ error: EtcdServerError) {
        let all: [Waiting] = state.withLockedValue { s in
            var out = s.pending
            for r in s.inflight.values { out.append(contentsOf: r.reads) }
            for c in s.confirmed { out.append(contentsOf: c.reads) }
            s = State()
            return out
        }
        for w in all { w.read(error) }
    }

    static func encode(_ ctx: UInt64) -> [UInt8] { withUnsafeBytes(of: ctx.bigEndian) { Array($0) } }
    static func decode(_ bytes: [UInt8]) -> UInt64 { bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } }
}
