import Backend
import Synchronization

/// The multi-version key-value store with etcd 3.4's semantics.
///
/// Threading: `range` and the other read accessors may be called from any thread at any time.
/// `apply`/`applyBatch` must be called from one thread only (the applier); they take the write
/// lock only while mutating the in-memory index, so readers are rarely blocked.
public final class MVCCStore: Sendable {
    public let backend: Backend
    /// When true, put/delete events carry the previous KeyValue (one extra backend read per key).
    let eventsCarryPrevKV: Bool
    let state: ReadWriteLock<StoreState>
    /// Called when an entry fails in the backend itself (MAP_FULL, I/O error), not for request-level
    /// errors. nil (tests, tools): the entry fails with NOSPACE or a backend error.
    let onBackendFailure: (@Sendable (Error) -> Void)?
    /// Whether auth is enabled, readable without the state lock (every request asks).
    let authEnabled = Atomic<Bool>(false)

    public init(backend: Backend, eventsCarryPrevKV: Bool = false,
                onBackendFailure: (@Sendable (Error) -> Void)? = nil) throws {
        self.onBackendFailure = onBackendFailure
        self.backend = backend
        self.eventsCarryPrevKV = eventsCarryPrevKV
        self.state = ReadWriteLock(try MVCCStore.restoreState(from: backend))
        authEnabled.store(state.withReadLock { $0.auth.enabled }, ordering: .releasing)
        try finishInterruptedCompaction()
    }

    /// Rebuilds the in-memory index from the `key` bucket (etcd's restoreIntoIndex).
    static func restoreState(from backend: Backend) throws -> StoreState {
        try backend.read { tx in try restoreState(reading: tx) }
    }

    /// `restoreState(from:)` over a given transaction: an image install reads its own
    /// uncommitted copy this way. Malformed records throw (an image may come from elsewhere).
    static func restoreState(reading tx: some BackendReading) throws -> StoreState {
        var s = StoreState()
        s.publishedConsistentIndex = try metaValue(tx, MetaKey.consistentIndex) ?? 0
        s.consistentTerm = try metaValue(tx, MetaKey.term) ?? 0
        if let rev = try metaValue(tx, MetaKey.finishedCompactRevision) { s.compactedRevision = Int64(bitPattern: rev) }
        var last: Int64 = 1
        var keyLease: [[UInt8]: Int64] = [:]  // the lease of each key's latest version, in revision order
        try tx.scan(.key, from: []) { k, v in
            guard let (rev, tombstone) = RevisionKey.decode(k),
                  let kv = KeyValueCodec.decode(v, withValue: false) else {
                throw EtcdError.backendFailure("malformed record in the key bucket")
            }
            last = rev.main
            if tombstone {
                s.index.tombstone(kv.key, rev)
                if !keyLease.isEmpty { keyLease.removeValue(forKey: kv.key) }
                return true
            }
            if kv.lease != 0 {
                keyLease[kv.key] = kv.lease
            } else if !keyLease.isEmpty {
                keyLease.removeValue(forKey: kv.key)
            }
            s.index.restore(kv.key, created: Revision(main: kv.createRevision, sub: 0), modified: rev,
                            version: kv.version)
            return true
        }
        s.leases = try LeaseTable.load(tx, keyLease: keyLease)
        s.auth = try AuthState.load(tx)
        s.publishedRevision = max(last, s.compactedRevision, 1)
        s.appliedRevision = s.publishedRevision
        s.appliedConsistentIndex = s.publishedConsistentIndex
        return s
    }

    /// An 8-byte big-endian number of the meta bucket, nil when absent.
    static func metaValue(_ tx: some BackendReading, _ key: [UInt8]) throws -> UInt64? {
        try tx.withValue(.meta, key) { v throws -> UInt64 in
            guard v.count == 8 else { throw EtcdError.backendFailure("malformed meta value") }
            return readBigEndian(v, at: 0)
        }
    }

    /// A compaction scheduled but not finished (crash in between) is redone at startup.
    func finishInterruptedCompaction() throws {
        let scheduled = try backend.read { tx in
            try tx.withValue(.meta, MetaKey.scheduledCompactRevision) { Int64(bitPattern: readBigEndian($0, at: 0)) }
        }
        guard let scheduled, scheduled > compactedRevision else { return }
        _ = try compactNow(scheduled)
    }

    // MARK: - Leases (applied state)

    /// The lease `id`, with its keys, as applied here.
    public func lease(_ id: Int64) -> LeaseRecord? { state.withReadLock { $0.leases.leases[id] } }

    /// Every granted lease's id and TTL (remaining TTL as last checkpointed), without keys.
    public func leaseSummaries() -> [(id: Int64, ttl: Int64, remainingTTL: Int64)] {
        state.withReadLock { s in s.leases.leases.values.map { ($0.id, $0.ttl, $0.remainingTTL) } }
    }

    /// Keys put and deleted by writes applied since this process started.
    public var writeCounts: (puts: Int64, deletes: Int64) { state.withReadLock { ($0.putTotal, $0.deleteTotal) } }

    public var leaseCount: Int { state.withReadLock { $0.leases.leases.count } }

    // MARK: - Read accessors

    /// The latest committed revision (what a read without `revision` observes).
    public var currentRevision: Int64 { state.withReadLock { $0.publishedRevision } }
    /// The last compaction revision, -1 if never compacted.
    public var compactedRevision: Int64 { state.withReadLock { $0.compactedRevision } }
    /// The index of the last Raft entry whose effects are committed to the backend.
    public var consistentIndex: UInt64 { state.withReadLock { $0.publishedConsistentIndex } }
    /// The Raft term stored with the consistent index (etcd 3.5's meta "term"): the term passed
    /// to the last `applyBatch(_:term:)` whose final entry was applied; 0 if never given.
    public var consistentTerm: UInt64 { state.withReadLock { $0.consistentTerm } }
    /// Number of keys with history in the index (live or deleted but not yet compacted).
    public var indexedKeyCount: Int { state.withReadLock { $0.index.keyCount } }

    /// etcd's Range (applierV3backend.Range over a read txn): consistent at one committed revision.
    public func range(_ r: RangeRequest) throws(EtcdError) -> RangeResponse {
        let span = KeySpan(key: r.key, rangeEnd: r.rangeEnd)
        let plan = RangePlan(r)
        let snapshot: ReadTx
        let found: (revisions: [Revision], count: Int)
        let curRev: Int64
        do {
            (snapshot, found, curRev) = try state.withReadLock { s throws -> (ReadTx, (revisions: [Revision], count: Int), Int64) in
                let cur = s.publishedRevision
                let rev = try MVCCStore.resolve(r.revision, current: cur, compacted: s.compactedRevision)
                let found = s.index.revisions(span, at: rev, limit: plan.fetchLimit, collect: !r.countOnly)
                // The snapshot must be opened under the read lock: a compaction cannot commit
                // its deletions between reading the index and opening the snapshot.
                return (try backend.beginRead(), found, cur)
            }
        } catch let e as EtcdError {
            throw e
        } catch {
            throw EtcdError.backendFailure("\(error)")
        }
        defer { snapshot.end() }
        var kvs: [KeyValue] = []
        kvs.reserveCapacity(found.revisions.count)
        for rev in found.revisions {
            kvs.append(try MVCCStore.fetch(rev, from: snapshot, withValue: !r.keysOnly || r.sortTarget == .value))
        }
        return plan.finish(kvs: kvs, count: found.count, revision: curRev)
    }

    /// A read-only Txn (`TxnRequest.isReadOnly`) served from a read snapshot, as etcd serves it: no log
    /// entry, no new revision. Runs under the read lock for one consistent view of index and backend.
    public func readOnlyTxn(_ t: TxnRequest) throws(EtcdError) -> TxnResponse.WithRevision {
        do {
            return try state.withReadLock { s throws -> TxnResponse.WithRevision in
                let snapshot = try backend.beginRead()
                defer { snapshot.end() }
                let reader = TxnWriter(beginRev: s.publishedRevision, carryPrevKV: false)
                let response = try reader.readOnlyTxn(t, index: s.index, tx: snapshot, compacted: s.compactedRevision)
                return TxnResponse.WithRevision(response: response, revision: s.publishedRevision)
            }
        } catch let e as EtcdError {
            throw e
        } catch {
            throw EtcdError.backendFailure("\(error)")
        }
    }

    /// Validates a requested read revision (etcd's rangeKeys checks); 0 or negative means current.
    static func resolve(_ requested: Int64, current: Int64, compacted: Int64) throws(EtcdError) -> Int64 {
        if requested > current { throw EtcdError.futureRevision }
        let rev = requested <= 0 ? current : requested
        if rev < compacted { throw EtcdError.compacted }
        return rev
    }

    /// Loads the KeyValue stored at `rev`. A missing revision means the index and the backend
    /// disagree, which is reported, not crashed on.
    static func fetch(_ rev: Revision, from tx: some BackendReading, withValue: Bool) throws(EtcdError) -> KeyValue {
        let kv: KeyValue??
        do {
            kv = try tx.withValue(.key, RevisionKey.encode(rev)) { KeyValueCodec.decode($0, withValue: withValue) }
        } catch {
            throw EtcdError.backendFailure("\(error)")
        }
        guard let found = kv, let decoded = found else {
            throw EtcdError.backendFailure("revision \(rev.main)/\(rev.sub) missing from the backend")
        }
        return decoded
    }
}
