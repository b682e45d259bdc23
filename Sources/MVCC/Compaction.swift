import Backend

extension MVCCStore {
    /// etcd's store.Compact, done synchronously: drops every revision ≤ `revision` except the
    /// newest one of each key still live there, in the index and in the backend.
    func compact(_ c: CompactionRequest, tx: inout WriteTx) throws -> ApplyResult {
        let (compacted, applied) = state.withReadLock { ($0.compactedRevision, $0.appliedRevision) }
        if c.revision <= compacted {
            return ApplyResult(outcome: .failed(.compacted), revision: applied)
        }
        if c.revision > applied {
            return ApplyResult(outcome: .failed(.futureRevision), revision: applied)
        }
        try compactLocked(c.revision, tx: &tx)
        return ApplyResult(outcome: .applied(.compact), revision: applied)
    }

    /// Redoes a compaction found scheduled but unfinished at startup.
    func compactNow(_ revision: Int64) throws {
        try backend.write { tx in try compactLocked(revision, tx: &tx) }
    }

    /// The index is compacted and the new compacted revision published under the write lock
    /// *before* the backend deletions commit: a reader that saw the old index opened its LMDB
    /// snapshot under the read lock, hence before this transaction commits, and still finds every
    /// revision it needs.
    private func compactLocked(_ revision: Int64, tx: inout WriteTx) throws {
        try tx.put(.meta, MetaKey.scheduledCompactRevision, bigEndianBytes(UInt64(revision)))
        let keep = state.withWriteLock { s -> Set<Revision> in
            let keep = s.index.compact(atRev: revision)
            s.compactedRevision = revision
            return keep
        }
        // Collect first: LMDB cursors must not be used across deletes of the same keys.
        var doomed: [[UInt8]] = []
        let end = RevisionKey.encode(Revision(main: revision + 1, sub: 0))
        try tx.scan(.key, from: [], to: end) { k, _ in
            if let (rev, _) = RevisionKey.decode(k), !keep.contains(rev) { doomed.append(Array(k)) }
            return true
        }
        for key in doomed { try tx.delete(.key, key) }
        try tx.put(.meta, MetaKey.finishedCompactRevision, bigEndianBytes(UInt64(revision)))
    }
}
