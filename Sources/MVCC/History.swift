import Backend

/// One bounded slice of the store's history, for a watcher catching up from a past revision
/// (etcd 3.4's syncWatchers reading the `key` bucket by revision).
public struct HistoryBatch: Sendable, Equatable {
    /// Put/delete events in (revision, sub-revision) order, exactly as `ApplyResult.events`
    /// reported them. A revision's events are either all here or all in a later batch.
    public var events: [Event]
    /// Where the next batch starts. Every revision below it (from the start asked for) was read.
    public var nextRevision: Int64
    /// The published revision the batch was read against (the response header's revision).
    public var currentRevision: Int64
    /// The last revision this read could cover: `min(endRevision, currentRevision)`.
    public var throughRevision: Int64
    /// The compacted revision at the time of the read (-1: never compacted).
    public var compactedRevision: Int64

    public init(events: [Event], nextRevision: Int64, currentRevision: Int64, throughRevision: Int64,
                compactedRevision: Int64) {
        self.events = events
        self.nextRevision = nextRevision
        self.currentRevision = currentRevision
        self.throughRevision = throughRevision
        self.compactedRevision = compactedRevision
    }

    /// Nothing is left up to `throughRevision`. Decide on this, not on `events.isEmpty`: a batch
    /// may stop early (limit, scan budget) with few or no matching events.
    public var isComplete: Bool { nextRevision > throughRevision }
}

extension MVCCStore {
    /// Records of the `key` bucket one batch may scan, matching or not, before it stops at the
    /// next revision boundary: bounds the read-lock hold of a narrow watcher over a long history.
    public static let historyScanBudget = 65_536

    /// The put/delete events of keys in [key, rangeEnd) (etcd's range_end conventions: empty =
    /// the single key, "\0" = every key ≥ key) with revisions in [startRevision, endRevision],
    /// `endRevision` nil or past the current revision meaning the current revision.
    ///
    /// Events are mvccpb.Event as the applier reports them: PUT with the KeyValue written at that
    /// revision; DELETE with only the key and the deleting revision as mod_revision. With
    /// `prevKV`, each carries the key's KeyValue at revision - 1 (nil when the key did not exist
    /// then), as etcd's watch server fills prev_kv.
    ///
    /// At most `limit` events, except that a revision is never split: once a revision is started
    /// all its events are returned, even past the limit (a watch response must not split one).
    ///
    /// - startRevision ≤ 0 means the oldest revision still in history (compacted + 1).
    /// - 0 < startRevision < compacted revision: throws `EtcdError.compacted` (etcd's watch accepts a
    ///   start at the compacted revision itself); the batch-less
    ///   caller reports `compactedRevision` (it only grows, so reading it afterwards gives what
    ///   etcd would report at that moment).
    /// - startRevision > current revision: an empty, complete batch at `startRevision`.
    ///
    /// Consistency: runs under the store's read lock with one LMDB snapshot opened under it, so
    /// the batch is cut at a published revision and never shows part of a revision. The lock is
    /// held for the whole batch (bounded by `limit` and `historyScanBudget`), which delays the
    /// applier's next publish by about as long. To join the live stream see
    /// `events(from:key:rangeEnd:prevKV:limit:joiningWhenComplete:)`.
    public func events(from startRevision: Int64, through endRevision: Int64? = nil, key: [UInt8],
                       rangeEnd: [UInt8], prevKV: Bool, limit: Int) throws(EtcdError) -> HistoryBatch {
        try readHistory(from: startRevision, through: endRevision, key: key, rangeEnd: rangeEnd,
                        prevKV: prevKV, limit: limit, join: { _ in })
    }

    /// The last step of a watcher's catch-up: reads one batch through the current revision like
    /// `events(from:...)` and, if that batch is complete (`isComplete`: nothing published is left
    /// unread), calls `join(batch)` BEFORE the read lock is released. No revision can be
    /// published while the lock is held, so the watch layer registers the watcher in its live set
    /// inside `join` with "deliver only revisions ≥ batch.nextRevision": every later revision
    /// reaches it live and none twice. If the batch is not complete, `join` is not called; the
    /// caller sends the batch and calls again from `batch.nextRevision`.
    ///
    /// Contract for the watch layer (etcd's watchableStore.notify / minRev filter):
    /// - The applier hands `ApplyResult.events` to the live set after `apply` returns, i.e. after
    ///   publishing, revisions in increasing order. Events of a revision < a watcher's
    ///   registration revision are dropped for that watcher (the applier may be between publish
    ///   and notify of `batch.currentRevision` while `join` runs: those events were read here).
    /// - `join` runs under the store's read lock: keep it short, and call no MVCCStore method in
    ///   it (a second read lock deadlocks once the applier waits for the write lock).
    /// - It may take the watch layer's own lock, provided that lock is never held while calling
    ///   into the store (lock order: store read lock, then watch lock).
    public func events(from startRevision: Int64, key: [UInt8], rangeEnd: [UInt8], prevKV: Bool, limit: Int,
                       joiningWhenComplete join: (HistoryBatch) -> Void) throws(EtcdError) -> HistoryBatch {
        try readHistory(from: startRevision, through: nil, key: key, rangeEnd: rangeEnd, prevKV: prevKV,
                        limit: limit, join: join)
    }

    /// Runs `body` with the published revision while holding the store's read lock, so no new
    /// revision is published until it returns. For a watcher starting now (no start revision):
    /// register it inside `body` for revisions > `revision`. Same rules as `join` above: short,
    /// no MVCCStore calls inside.
    public func withConsistentRevision<T>(_ body: (_ revision: Int64) throws -> T) rethrows -> T {
        try state.withReadLock { s in try body(s.publishedRevision) }
    }

    private func readHistory(from startRevision: Int64, through endRevision: Int64?, key: [UInt8], rangeEnd: [UInt8],
                             prevKV: Bool, limit: Int,
                             join: (HistoryBatch) -> Void) throws(EtcdError) -> HistoryBatch {
        precondition(limit > 0, "a history batch needs a positive limit")
        let span = KeySpan(key: key, rangeEnd: rangeEnd)
        do {
            return try state.withReadLock { s throws -> HistoryBatch in
                let batch = try readHistory(s, from: startRevision, through: endRevision, span: span,
                                            prevKV: prevKV, limit: limit)
                if batch.isComplete { join(batch) }
                return batch
            }
        } catch let e as EtcdError {
            throw e
        } catch {
            throw EtcdError.backendFailure("\(error)")
        }
    }

    /// The batch itself, under the caller's read lock.
    private func readHistory(_ s: borrowing StoreState, from startRevision: Int64, through endRevision: Int64?,
                             span: KeySpan, prevKV: Bool, limit: Int) throws -> HistoryBatch {
        let current = s.publishedRevision
        let compacted = s.compactedRevision
        let start = startRevision > 0 ? startRevision : max(1, compacted + 1)
        // etcd's watch: only a start before the compacted revision is compacted; the revision a
        // compaction kept can still be watched from (what survives of it: its latest puts).
        if start < compacted { throw EtcdError.compacted }
        let through = min(endRevision ?? current, current)
        var batch = HistoryBatch(events: [], nextRevision: start, currentRevision: current,
                                 throughRevision: through, compactedRevision: compacted)
        guard start <= through else { return batch }

        // Opened under the read lock: a compaction publishes its revision before its deletions
        // commit, so every revision > compacted (and the kept one at it) is in this snapshot.
        let tx = try backend.beginRead()
        defer { tx.end() }
        var stoppedAt: Int64?
        var lastMain: Int64 = -1
        var scanned = 0
        var failure: EtcdError?
        let upper = RevisionKey.encode(Revision(main: through + 1, sub: 0))
        try tx.scan(.key, from: RevisionKey.encode(Revision(main: start, sub: 0)), to: upper) { k, v in
            guard let (rev, tombstone) = RevisionKey.decode(k) else {
                failure = .backendFailure("malformed revision key in the key bucket")
                return false
            }
            if rev.main != lastMain {
                // Only stop between revisions, never inside one.
                if batch.events.count >= limit || scanned >= MVCCStore.historyScanBudget {
                    stoppedAt = rev.main
                    return false
                }
                lastMain = rev.main
            }
            scanned += 1
            guard let header = KeyValueCodec.decode(v, withValue: false) else {
                failure = .backendFailure("malformed value at revision \(rev.main)/\(rev.sub)")
                return false
            }
            guard span.contains(header.key) else { return true }
            if tombstone {
                batch.events.append(Event(kind: .delete, kv: KeyValue(key: header.key, modRevision: rev.main)))
            } else {
                guard let kv = KeyValueCodec.decode(v, withValue: true) else { return false }  // decoded above
                batch.events.append(Event(kind: .put, kv: kv))
            }
            return true
        }
        if let failure { throw failure }
        batch.nextRevision = stoppedAt ?? through + 1
        if prevKV { try fillPrevKVs(&batch.events, index: s.index, tx: tx, compacted: compacted) }
        return batch
    }

    /// Sets each event's prevKV to the key's KeyValue at revision - 1, as the applier's events
    /// carry it. Revision - 1 ≥ the compacted revision (the batch starts past it), where the index
    /// and the snapshot still hold the key's live revision.
    private func fillPrevKVs(_ events: inout [Event], index: TreeIndex, tx: ReadTx, compacted: Int64) throws {
        // The latest state of each key seen earlier in this batch (nil: deleted) saves a lookup.
        var seen: [[UInt8]: KeyValue?] = [:]
        for i in events.indices {
            let e = events[i]
            let prev: KeyValue?
            if e.kind == .put && e.kv.version == 1 {
                prev = nil  // a new generation: the key did not exist at revision - 1
            } else if e.kv.modRevision - 1 < compacted {
                prev = nil  // compacted away, as etcd's watch then leaves prev_kv out
            } else if let known = seen[e.kv.key] {
                prev = known
            } else if let found = index.get(e.kv.key, at: e.kv.modRevision - 1) {
                prev = try MVCCStore.fetch(found.modified, from: tx, withValue: true)
            } else {
                prev = nil
            }
            events[i].prevKV = prev
            seen[e.kv.key] = .some(e.kind == .put ? e.kv : nil)
        }
    }
}
