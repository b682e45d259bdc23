import Backend

/// What an image holds, read from its own meta bucket.
public struct ImageInfo: Sendable, Equatable {
    /// Size of the image file.
    public var bytes: Int
    /// The Raft index (and its term, 0 if never given) of the last entry applied in the image:
    /// what a Raft snapshot made of it must be labelled with.
    public var consistentIndex: UInt64
    public var consistentTerm: UInt64

    public init(bytes: Int, consistentIndex: UInt64, consistentTerm: UInt64) {
        self.bytes = bytes
        self.consistentIndex = consistentIndex
        self.consistentTerm = consistentTerm
    }
}

extension MVCCStore {
    /// `Backend.writeImage(to:)`, plus the consistent index and term the image captured. The
    /// copy runs from its own LMDB snapshot while the applier may go on, so those are read back
    /// from the image rather than from the live store.
    public func writeImage(to path: String) throws -> ImageInfo {
        _ = try backend.writeImage(to: path)
        return try MVCCStore.imageInfo(at: path)
    }

    /// Reads an image's consistent index and term without installing it (a follower can refuse
    /// an image older than what it has applied).
    public static func imageInfo(at path: String) throws -> ImageInfo {
        let image = try Backend(readingImageAt: path)
        defer { image.close() }
        return try image.read { tx in
            ImageInfo(bytes: try image.fileSize(),
                      consistentIndex: try metaValue(tx, MetaKey.consistentIndex) ?? 0,
                      consistentTerm: try metaValue(tx, MetaKey.term) ?? 0)
        }
    }

    /// Replaces the whole store with the image at `path` (written by `Backend.writeImage(to:)`,
    /// typically a leader's snapshot), keeping this `MVCCStore` and its `Backend`: other threads
    /// hold references and keep reading throughout.
    ///
    /// One write transaction of the live environment empties every bucket and streams every
    /// record of the image in; the in-memory state (key index, revisions, compacted revision,
    /// consistent index and term) is rebuilt from that uncommitted copy, then the commit and the
    /// state swap happen together under the state's write lock. A reader therefore pairs the old
    /// index with an old LMDB snapshot or the new index with a new one, never a mix (readers
    /// open their snapshot under the read lock). Snapshots opened before keep reading the old
    /// data: LMDB keeps those pages until they end. Alarms become the image's (etcd restores its
    /// alarm store from the new backend); the quota is not checked, as etcd does not, but a
    /// MAP_FULL aborts the install, leaves the store as it was and raises NOSPACE.
    ///
    /// Applier thread only, between batches (no apply may run concurrently). On error nothing
    /// changed. Watchers and leases built on the old contents are the caller's to resynchronise.
    public func restore(fromImage path: String) throws {
        let image = try Backend(readingImageAt: path)
        defer { image.close() }
        try image.read { source in
            _ = try backend.write({ tx -> StoreState in
                try tx.replaceContents(with: source)
                return try MVCCStore.restoreState(reading: tx)
            }, committing: { fresh, commit in
                try state.withWriteLock { s in
                    try commit()
                    var kept = fresh
                    (kept.putTotal, kept.deleteTotal) = (s.putTotal, s.deleteTotal)  // counters go on
                    s = kept
                    authEnabled.store(kept.auth.enabled, ordering: .releasing)
                }
            })
        }
        // An image is one committed state, so this finds nothing unless it came from a store
        // stopped mid-compaction; redo it then, as at startup.
        try finishInterruptedCompaction()
    }

    /// etcd's store.Hash (Maintenance/Hash): `Backend.hash(ignoring:)` over the whole backend and
    /// the revision it was taken at, both from one snapshot. Leaves out what differs between
    /// members holding the same data: the consistent index and term (as etcd 3.4/3.5's
    /// DefaultIgnores) and the alarm bucket, whose NOSPACE records each member writes for itself
    /// until alarms go through Raft. Comparable between Keel members only.
    public func hash() throws -> (hash: UInt32, revision: Int64) {
        let (snapshot, revision) = try state.withReadLock { s in (try backend.beginRead(), s.publishedRevision) }
        defer { snapshot.end() }
        return (try snapshot.hash(ignoring: MVCCStore.hashIgnores), revision)
    }

    static let hashIgnores: Set<HashIgnore> = [
        HashIgnore(bucket: .meta, key: MetaKey.consistentIndex),
        HashIgnore(bucket: .meta, key: MetaKey.term),
        HashIgnore(bucket: .alarm, key: nil),
    ]
}
