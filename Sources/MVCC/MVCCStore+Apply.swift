import Backend
import Synchronization

/// One log entry to apply: its index, what it asks, and for a client's request who asked.
typealias Entry = (index: UInt64, op: WriteOp, caller: AuthCaller?)

extension MVCCStore {
    /// Applies one committed entry. Applier thread only.
    public func apply(index: UInt64, _ op: WriteOp) -> ApplyResult {
        applyBatch([(index, op)])[0]
    }

    /// Applies entries in order in ONE backend write transaction, storing the highest applied
    /// index as the consistent index in the same transaction. Entries with an index ≤ the stored
    /// consistent index are skipped (WAL replay after a restart). A compaction commits the work
    /// before it first and runs in its own transaction, so the batch then takes several commits.
    /// Indexes must increase. Applier thread only.
    public func applyBatch(_ ops: [(index: UInt64, op: WriteOp)]) -> [ApplyResult] {
        applyBatch(ops, lastTerm: nil)
    }

    /// `applyBatch(_:)` that also stores `term`, the Raft term of the batch's last entry, with the
    /// consistent index (etcd 3.5's meta "term"), in the transaction that applies that entry.
    /// When a compaction splits the batch, the earlier commits keep the previous term: terms
    /// only grow with the index, so the stored term is never ahead of the stored index's.
    public func applyBatch(_ ops: [(index: UInt64, op: WriteOp)], term: UInt64) -> [ApplyResult] {
        applyBatch(ops, lastTerm: term)
    }

    /// `applyBatch(_:term:)` for entries proposed on behalf of a client: `callers[i]` is who sent
    /// `ops[i]` (nil: the server itself, e.g. a lease expiry), checked against the permissions as
    /// applied here when auth is enabled (etcd's authApplierV3).
    public func applyBatch(_ ops: [(index: UInt64, op: WriteOp)], callers: [AuthCaller?], term: UInt64) -> [ApplyResult] {
        precondition(callers.count == ops.count)
        return applyBatch(ops, callers: callers, lastTerm: term)
    }

    private func applyBatch(_ ops: [(index: UInt64, op: WriteOp)], callers: [AuthCaller?]? = nil,
                            lastTerm: UInt64?) -> [ApplyResult] {
        var results: [ApplyResult] = []
        results.reserveCapacity(ops.count)
        var segment: [Entry] = []
        for (i, op) in ops.enumerated() {
            let term = i == ops.count - 1 ? lastTerm : nil
            let entry: Entry = (op.index, op.op, callers?[i] ?? nil)
            if case .compact = entry.op {
                if !segment.isEmpty { results += applySegment(segment, term: nil); segment.removeAll() }
                results += applySegment([entry], term: term)
            } else {
                segment.append(entry)
            }
        }
        if !segment.isEmpty { results += applySegment(segment, term: lastTerm) }
        precondition(results.count == ops.count)
        return results
    }

    /// One LMDB write transaction for `entries`. On a backend failure (MAP_FULL, I/O) the
    /// in-memory state is rebuilt from the backend and the entries are retried one by one, so one
    /// oversized entry cannot fail its neighbours. `term` belongs to the last entry.
    private func applySegment(_ entries: [Entry], term: UInt64?) -> [ApplyResult] {
        do {
            return try commitSegment(entries, term: term)
        } catch {
            rebuildAfterBackendFailure()
            guard entries.count > 1 else {
                // A log entry that the backend cannot apply here may apply on another member: a
                // replicated server stops instead of answering differently (the handler does not return).
                onBackendFailure?(error)
                return [ApplyResult(outcome: .failed(MVCCStore.mapError(error)), revision: currentRevision)]
            }
            return entries.enumerated().flatMap { i, entry in
                applySegment([entry], term: i == entries.count - 1 ? term : nil)
            }
        }
    }

    private func commitSegment(_ entries: [Entry], term: UInt64?) throws -> [ApplyResult] {
        var results: [ApplyResult] = []
        results.reserveCapacity(entries.count)
        let (startCI, startTerm) = state.withReadLock { ($0.appliedConsistentIndex, $0.consistentTerm) }
        var highest = startCI
        var newTerm = startTerm
        try backend.write { tx in
            for (index, op, caller) in entries {
                if index <= highest {
                    results.append(ApplyResult(outcome: .skipped, revision: state.withReadLock { $0.appliedRevision }))
                    continue
                }
                precondition(index > highest, "entries must be applied in increasing index order")
                highest = index
                results.append(try applyOne(op, caller: caller, index: index, tx: &tx))
            }
            if highest > startCI {
                try tx.put(.meta, MetaKey.consistentIndex, bigEndianBytes(highest))
                // Only with the entry it belongs to: a skipped last entry leaves the term alone.
                if let term, highest == entries[entries.count - 1].index, term != startTerm {
                    try tx.put(.meta, MetaKey.term, bigEndianBytes(term))
                    newTerm = term
                }
            }
        }
        // Committed: publish the new revision and consistent index to readers.
        state.withWriteLock { s in
            s.appliedConsistentIndex = highest
            s.publishedConsistentIndex = highest
            s.consistentTerm = newTerm
            s.publishedRevision = s.appliedRevision
        }
        return results
    }

    /// Runs one op under the state write lock. Request errors (EtcdError) leave no change;
    /// backend errors propagate and abort the whole LMDB transaction.
    private func applyOne(_ op: WriteOp, caller: AuthCaller?, index: UInt64, tx: inout WriteTx) throws -> ApplyResult {
        if case .compact(let c) = op { return try compact(c, tx: &tx) }
        return try state.withWriteLock { s throws -> ApplyResult in
            var w = TxnWriter(beginRev: s.appliedRevision, carryPrevKV: eventsCarryPrevKV)
            let response: WriteResponse
            do {
                if let caller, s.auth.enabled { try Self.checkPermission(op, caller, s) }
                switch op {
                case .auth(let a):
                    response = .auth(try s.auth.apply(a, caller: caller, index: index, tx: &tx))
                    authEnabled.store(s.auth.enabled, ordering: .releasing)
                case .put(let p):
                    try checkSpace(cost: p.putCost, tx: &tx)
                    if p.lease != 0 && !s.leases.exists(p.lease) { throw EtcdError.leaseNotFound }
                    response = .put(try w.put(p, index: &s.index, tx: &tx))
                case .deleteRange(let d):
                    response = .deleteRange(try w.deleteRange(d, index: &s.index, tx: &tx, compacted: s.compactedRevision))
                case .txn(let t):
                    let cost = t.putCost
                    if cost > 0 { try checkSpace(cost: cost, tx: &tx) }
                    response = .txn(try w.txn(t, index: &s.index, tx: &tx, compacted: s.compactedRevision, leases: s.leases))
                case .deleteKeys(let keys):
                    var deleted: Int64 = 0
                    for key in keys where s.index.get(key, at: w.readRevision) != nil {
                        try w.delete(key, index: &s.index, tx: &tx)
                        deleted += 1
                    }
                    response = .deleteKeys(deleted: deleted)
                case .leaseGrant(let id, let ttl):
                    guard !s.leases.exists(id) else { throw EtcdError.leaseExists }
                    let lease = LeaseRecord(id: id, ttl: ttl)
                    try tx.put(.lease, LeaseTable.bucketKey(id), LeaseTable.bucketValue(lease))
                    s.leases.leases[id] = lease
                    response = .leaseGrant(id: id, ttl: ttl)
                case .leaseRevoke(let id):
                    guard let lease = s.leases.leases[id] else { throw EtcdError.leaseNotFound }
                    // All its keys go in one revision, in key order (etcd's revoke).
                    for key in lease.keys.sorted(by: { $0.lexicographicallyPrecedes($1) })
                    where s.index.get(key, at: w.readRevision) != nil {
                        try w.delete(key, index: &s.index, tx: &tx)
                    }
                    _ = try tx.delete(.lease, LeaseTable.bucketKey(id))
                    s.leases.leases[id] = nil
                    response = .leaseRevoke(id: id)
                case .leaseCheckpoint(let checkpoints):
                    for c in checkpoints {
                        guard var lease = s.leases.leases[c.id] else { continue }  // revoked meanwhile
                        lease.remainingTTL = c.remainingTTL
                        try tx.put(.lease, LeaseTable.bucketKey(c.id), LeaseTable.bucketValue(lease))
                        s.leases.leases[c.id]?.remainingTTL = c.remainingTTL
                    }
                    response = .leaseCheckpoint(checkpoints)
                case .noop:
                    response = .noop
                case .compact:
                    preconditionFailure("handled above")
                }
            } catch let e as EtcdError {
                // Request-level failures are detected before the first write of the op.
                precondition(w.changes == 0, "an op failed after writing")
                return ApplyResult(outcome: .failed(e), revision: s.appliedRevision)
            }
            s.appliedRevision = w.resultRevision
            s.leases.track(w.events)
            // etcd counts Put and DeleteRange calls on the write txn (a revocation is one per key).
            switch response {
            case .put: s.putTotal += 1
            case .deleteRange: s.deleteTotal += 1
            case .txn(let t): Self.countOps(t, &s)
            case .deleteKeys, .leaseRevoke: s.deleteTotal += Int64(w.events.count)
            default: break
            }
            return ApplyResult(outcome: .applied(response), revision: w.resultRevision, events: w.events)
        }
    }

    private static func countOps(_ t: TxnResponse, _ s: inout StoreState) {
        for op in t.responses {
            switch op {
            case .put: s.putTotal += 1
            case .deleteRange: s.deleteTotal += 1
            case .txn(let nested): countOps(nested, &s)
            case .range: break
            }
        }
    }

    /// NOSPACE at apply: once a NOSPACE alarm is active, writes that grow the store fail (etcd's capped
    /// applier). Whether a write crosses the quota is decided when it is proposed (`exceedsQuota`), not
    /// here: backend sizes differ between members, and every member must apply the log alike. Alarms
    /// change only through log entries, so this check gives the same answer everywhere.
    private func checkSpace(cost: Int64, tx: inout WriteTx) throws {
        if tx.isNoSpaceAlarmRaised { throw EtcdError.noSpace }
    }

    /// Proposal-time quota check (etcd's quotaKVServer): would `cost` more bytes pass the quota?
    public func exceedsQuota(cost: Int64) -> Bool {
        backend.wouldExceedQuota(extraBytes: cost)
    }

    /// Throws away uncommitted index changes by reloading the committed state.
    private func rebuildAfterBackendFailure() {
        do {
            let fresh = try MVCCStore.restoreState(from: backend)
            state.withWriteLock { s in
                var kept = fresh
                (kept.putTotal, kept.deleteTotal) = (s.putTotal, s.deleteTotal)  // counters go on
                s = kept
            }
            authEnabled.store(fresh.auth.enabled, ordering: .releasing)
        } catch {
            preconditionFailure("cannot reload the store after a backend failure: \(error)")
        }
    }

    public static func mapError(_ error: Error) -> EtcdError {
        if let e = error as? EtcdError { return e }
        if let b = error as? BackendError {
            switch b {
            case .mapFull, .quotaExceeded, .txnFull: return .noSpace
            case .lmdb(let code, let message): return .backendFailure("lmdb \(code): \(message)")
            }
        }
        return .backendFailure("\(error)")
    }
}
