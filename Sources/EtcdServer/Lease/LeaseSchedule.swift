import HeapModule
import MVCC
import NIOConcurrencyHelpers
import NIOCore

/// When each lease runs out, on this member's monotonic clock.
///
/// Every member keeps the schedule, from what it applies: a grant starts a lease's TTL at the moment it
/// is applied here, a checkpoint (the leader's renewals, through the log) restarts it with the remaining
/// TTL it carries. Only the leader acts on it: it expires leases by proposing their revocation and answers
/// keep-alives. A new leader thus continues the old leader's clock instead of granting every lease a
/// fresh TTL (etcd issues 9395/9888), give or take the replication delay; leases that would have run out
/// during the election get at most one election timeout more, so their clients can reach the new
/// leader, and no lease outlives its schedule by more than that.
final class LeaseSchedule: Sendable {
    struct Settings: Sendable {
        /// What a new leader grants leases that ran out while there was none (etcd: the election timeout).
        var promotionGrace: TimeAmount
        /// Revocations proposed per second at most (etcd's leaseRevokeRate): a mass expiry cannot stall writes.
        var revokesPerSecond: Int = 1000
        /// A revocation that did not apply (lost leadership, dropped proposal) is proposed again after this.
        var revokeRetry: TimeAmount = .seconds(3)
        /// Lease checkpoints per log entry at most (etcd's maxLeaseCheckpointBatchSize).
        var checkpointBatch: Int = 1000
    }

    private struct Lease {
        var ttl: Int64
        var deadline: NIODeadline
        /// Set while a revocation we proposed is in flight: when to propose it again.
        var revokeRetryAt: NIODeadline?
    }

    private struct Due: Comparable {
        var deadline: NIODeadline
        var id: Int64
        static func < (a: Due, b: Due) -> Bool { a.deadline < b.deadline }
    }

    private struct State {
        var leases: [Int64: Lease] = [:]
        /// One entry per lease, earliest first, never later than when the lease is due (its deadline, or
        /// its revocation retry): renewals only move a lease later, so they leave the entry where it is
        /// and it is put back at the new time when it comes up. Rebuilt when this member starts leading
        /// (a follower's checkpoints may move deadlines earlier). Bounded by the number of leases.
        var due = Heap<Due>()
        var leading = false
        /// Renewed (or extended) leases whose new schedule followers have not been told yet.
        var unreported: Set<Int64> = []
        var revokeBudget: Double = 0
        var lastTick: NIODeadline?
    }

    let settings: Settings
    private let state = NIOLockedValueBox(State())

    init(settings: Settings) {
        self.settings = settings
    }

    // MARK: From the applier (every member)

    /// Replaces the schedule with the store's leases (start-up, snapshot install): each gets its last
    /// checkpointed remaining TTL, or its full TTL, from now.
    func restore(from store: MVCCStore, now: NIODeadline = .now()) {
        let leases = store.leaseSummaries()
        state.withLockedValue { s in
            s.leases.removeAll(keepingCapacity: true)
            s.due = Heap()
            for l in leases {
                let left = l.remainingTTL > 0 ? l.remainingTTL : l.ttl
                s.leases[l.id] = Lease(ttl: l.ttl, deadline: now + .seconds(left))
                s.due.insert(Due(deadline: now + .seconds(left), id: l.id))
            }
            s.unreported.removeAll()
        }
    }

    func granted(_ id: Int64, ttl: Int64, now: NIODeadline = .now()) {
        state.withLockedValue { s in
            s.leases[id] = Lease(ttl: ttl, deadline: now + .seconds(ttl))
            s.due.insert(Due(deadline: now + .seconds(ttl), id: id))
        }
    }

    func revoked(_ id: Int64) {
        state.withLockedValue { s in
            s.leases[id] = nil
            s.unreported.remove(id)
        }
    }

    /// A checkpoint applied: followers restart the lease's clock from it. The leader wrote it from its
    /// own schedule, which is already exact (it would only add the replication delay).
    func checkpointed(_ checkpoints: [LeaseCheckpoint], now: NIODeadline = .now()) {
        state.withLockedValue { s in
            guard !s.leading else { return }
            for c in checkpoints where s.leases[c.id] != nil {
                s.leases[c.id]!.deadline = now + .seconds(c.remainingTTL)
            }
        }
    }

    // MARK: Leader

    enum Renewal: Equatable {
        case renewed(ttl: Int64)
        /// Unknown here, or already ran out (its revocation is on its way): etcd answers TTL 0.
        case notFound
    }

    /// A keep-alive, on the leader: the lease's full TTL starts again now.
    func renew(_ id: Int64, now: NIODeadline = .now()) -> Renewal {
        state.withLockedValue { s in
            guard var lease = s.leases[id], lease.deadline > now else { return .notFound }
            lease.deadline = now + .seconds(lease.ttl)
            lease.revokeRetryAt = nil
            s.leases[id] = lease
            s.unreported.insert(id)
            return .renewed(ttl: lease.ttl)
        }
    }

    /// Time left before the lease runs out here (negative once past), nil when unknown.
    func remaining(_ id: Int64, now: NIODeadline = .now()) -> TimeAmount? {
        state.withLockedValue { s in s.leases[id].map { $0.deadline - now } }
    }

    /// What the leader must propose now.
    struct Work: Equatable {
        var revoke: [Int64] = []
        var checkpoints: [[LeaseCheckpoint]] = []
    }

    /// Called every heartbeat with whether this member leads. On becoming leader, leases that ran out
    /// meanwhile get the promotion grace (and followers are told); while leading, leases past their
    /// deadline are revoked at a bounded rate, and renewals are reported in checkpoint batches.
    func tick(leading: Bool, now: NIODeadline = .now()) -> Work {
        state.withLockedValue { s in
            defer { s.lastTick = now }
            guard leading else {
                s.leading = false
                s.unreported.removeAll()
                return Work()
            }
            if !s.leading {
                s.leading = true
                s.revokeBudget = 0
                promote(&s, now: now)
            }
            var work = Work()
            // Revocations: refill the budget by the time passed, spend it on the earliest deadlines; at
            // most a tenth of a second's worth at once, so a mass expiry comes in small batches.
            let elapsed = s.lastTick.map { Double((now - $0).nanoseconds) / 1e9 } ?? 0
            let rate = Double(settings.revokesPerSecond)
            s.revokeBudget = min(max(rate / 10, 1), s.revokeBudget + max(elapsed, 0) * rate)
            while s.revokeBudget >= 1, let next = s.due.min, next.deadline <= now {
                _ = s.due.popMin()
                guard var lease = s.leases[next.id] else { continue }  // revoked since
                let due = lease.revokeRetryAt ?? lease.deadline
                if due > now {  // renewed since (or a revocation is in flight): look again then
                    s.due.insert(Due(deadline: due, id: next.id))
                    continue
                }
                let retry = now + settings.revokeRetry
                lease.revokeRetryAt = retry
                s.leases[next.id] = lease
                s.due.insert(Due(deadline: retry, id: next.id))
                work.revoke.append(next.id)
                s.revokeBudget -= 1
            }
            // Checkpoints: the remaining TTL of each renewed lease, so followers keep the same clock.
            if !s.unreported.isEmpty {
                var batch: [LeaseCheckpoint] = []
                for id in s.unreported {
                    guard let lease = s.leases[id] else { continue }
                    batch.append(LeaseCheckpoint(id: id, remainingTTL: Self.seconds(lease.deadline - now)))
                    if batch.count == settings.checkpointBatch {
                        work.checkpoints.append(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                if !batch.isEmpty { work.checkpoints.append(batch) }
                s.unreported.removeAll(keepingCapacity: true)
            }
            return work
        }
    }

    /// Leases whose deadline passed (or is closer than the grace) while there was no leader get until
    /// now + grace, never more than grace beyond their own deadline.
    private func promote(_ s: inout State, now: NIODeadline) {
        let grace = settings.promotionGrace
        var due: [Due] = []
        due.reserveCapacity(s.leases.count)
        for (id, var lease) in s.leases {
            lease.revokeRetryAt = nil
            let extended = min(now + grace, lease.deadline + grace)
            if extended > lease.deadline && extended > now {
                lease.deadline = extended
                s.unreported.insert(id)
            }
            s.leases[id] = lease
            due.append(Due(deadline: lease.deadline, id: id))
        }
        s.due = Heap(due)
    }

    /// Whole seconds left, rounded up (a lease never ends early because of the rounding), at least 1.
    static func seconds(_ t: TimeAmount) -> Int64 {
        max(1, (t.nanoseconds + 999_999_999) / 1_000_000_000)
    }

    var count: Int { state.withLockedValue { $0.leases.count } }
    /// Entries waiting in the expiry heap (bounded by the leases, whatever the renewal rate).
    var pendingCount: Int { state.withLockedValue { $0.due.count } }
}
