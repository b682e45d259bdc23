/// Everything the store keeps in memory, guarded by one reader-writer lock.
///
/// Two revisions exist because index mutations run ahead of the LMDB commit: `appliedRevision`
/// is the writer's view (includes uncommitted changes of the running batch) and
/// `publishedRevision` is what readers may see (committed to LMDB). Readers only ask the
/// multi-version index for revisions ≤ `publishedRevision`, so uncommitted entries are invisible.
struct StoreState: Sendable {
    var index = TreeIndex()
    var publishedRevision: Int64 = 1
    var appliedRevision: Int64 = 1
    /// -1 until the first compaction, as etcd's compactMainRev.
    var compactedRevision: Int64 = -1
    var publishedConsistentIndex: UInt64 = 0
    var appliedConsistentIndex: UInt64 = 0
    /// Raft term of the entry at the consistent index when the applier passed it (0: unknown).
    /// Only changes at a commit, so there is no applied/published pair.
    var consistentTerm: UInt64 = 0
    /// Granted leases and their keys (applied state, like the index).
    var leases = LeaseTable()
    /// Users, roles and the auth switch (applied state, like the index).
    var auth = AuthState()
    /// Keys put and deleted by applied writes since start (etcd_mvcc_put_total, etcd_mvcc_delete_total).
    var putTotal: Int64 = 0
    var deleteTotal: Int64 = 0
}

/// Keys of the `meta` bucket.
enum MetaKey {
    static let consistentIndex = Array("consistent_index".utf8)
    /// etcd 3.5's name: the term stored with the consistent index.
    static let term = Array("term".utf8)
    static let scheduledCompactRevision = Array("scheduledCompactRev".utf8)
    static let finishedCompactRevision = Array("finishedCompactRev".utf8)
}
