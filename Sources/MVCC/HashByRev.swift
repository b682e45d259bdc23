import Backend

extension MVCCStore {
    /// etcd 3.4's store.HashByRev (Maintenance/HashKV, `etcdctl endpoint hashkv`): CRC-32C of the
    /// bucket name "key", then of every revision key ≤ `rev` with its KeyValue, skipping
    /// revisions ≤ the compacted revision that a compaction at `rev` would not keep (unless it
    /// would keep none). `rev` 0 means the current revision. Throws `.compacted` for
    /// 0 < rev ≤ compacted revision and `.futureRevision` past the current one, as etcd does.
    ///
    /// Revision keys are laid out as etcd's and each value is hashed in etcd's encoding (the
    /// mvccpb.KeyValue protobuf, re-encoded from ours on the fly), so the number equals what etcd
    /// 3.4 reports for the same history.
    public func hashByRev(_ rev: Int64) throws -> (hash: UInt32, currentRevision: Int64, compactRevision: Int64) {
        // Index, revisions and snapshot are taken together under the read lock, like range: a
        // compaction or an image install cannot commit in between.
        let (snapshot, target, current, compacted, keep) = try state.withReadLock { s throws in
            let compacted = s.compactedRevision
            let current = s.publishedRevision
            if rev > 0 && rev <= compacted { throw EtcdError.compacted }
            if rev > 0 && rev > current { throw EtcdError.futureRevision }
            let target = rev == 0 ? current : rev
            var keep = s.index.keep(atRev: target)
            if keep.isEmpty && compacted > 0 {
                // etcd then hashes every revision ≤ compacted still in its bucket, which once its
                // compaction finished is what a compaction there kept. Our compacted revision is
                // published before the compaction's deletions commit, so name that set rather
                // than trust a snapshot that may predate the commit.
                keep = s.index.keep(atRev: compacted)
            }
            return (try backend.beginRead(), target, current, compacted, keep)
        }
        defer { snapshot.end() }

        var h = CRC32CHasher()
        h.update(Array(Bucket.key.name.utf8))
        let upper = RevisionKey.encode(Revision(main: target + 1, sub: 0))
        var failure: EtcdError?
        try snapshot.scan(.key, from: [], to: upper) { k, v in
            guard let (revision, _) = RevisionKey.decode(k) else {
                failure = .backendFailure("malformed revision key in the key bucket")
                return false
            }
            if revision.main <= compacted && !keep.isEmpty && !keep.contains(revision) { return true }
            h.update(k)
            guard KeyValueCodec.feedEtcdEncoding(of: v, into: &h) else {
                failure = .backendFailure("malformed value at revision \(revision.main)/\(revision.sub)")
                return false
            }
            return true
        }
        if let failure { throw failure }
        return (h.value, current, compacted)
    }
}

extension KeyIndex {
    /// etcd's keyIndex.keep: the newest revision ≤ atRev of the first generation not closed by
    /// then (its doCompact walk), unless that is the tombstone of a closed generation.
    func keep(atRev: Int64, into keep: inout Set<Revision>) {
        if isEmpty { return }
        var gi = 0
        while gi < generations.count - 1 && generations[gi].revisions[generations[gi].revisions.count - 1].main <= atRev {
            gi += 1
        }
        let revisions = generations[gi].revisions
        guard let n = revisions.lastIndex(where: { $0.main <= atRev }) else { return }
        if n == revisions.count - 1 && gi != generations.count - 1 { return }
        keep.insert(revisions[n])
    }
}

extension KeyValueCodec {
    /// Feeds `stored` (our encoding) to `hasher` as etcd's mvccpb.KeyValue protobuf bytes: fields
    /// 1 key, 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease in order, zero or
    /// empty fields left out (gogoproto's Marshal). False when `stored` is malformed.
    static func feedEtcdEncoding(of stored: UnsafeRawBufferPointer, into hasher: inout CRC32CHasher) -> Bool {
        guard stored.count >= headerLength, stored[0] == formatVersion else { return false }
        func i64(_ at: Int) -> Int64 { Int64(littleEndian: stored.loadUnaligned(fromByteOffset: at, as: Int64.self)) }
        let keyLength = Int(UInt32(littleEndian: stored.loadUnaligned(fromByteOffset: 33, as: UInt32.self)))
        guard headerLength + keyLength <= stored.count else { return false }
        let key = UnsafeRawBufferPointer(rebasing: stored[headerLength..<(headerLength + keyLength)])
        let value = UnsafeRawBufferPointer(rebasing: stored[(headerLength + keyLength)...])

        var head: [UInt8] = []
        head.reserveCapacity(48)
        func bytesField(_ tag: UInt8, _ bytes: UnsafeRawBufferPointer) {
            guard !bytes.isEmpty else { return }
            head.append(tag)
            head.appendProtobufVarint(UInt64(bytes.count))
            hasher.update(head)
            head.removeAll(keepingCapacity: true)
            hasher.update(bytes)
        }
        func intField(_ tag: UInt8, _ v: Int64) {
            guard v != 0 else { return }
            head.append(tag)
            head.appendProtobufVarint(UInt64(bitPattern: v))
        }
        bytesField(0x0a, key)
        intField(0x10, i64(1))  // create_revision
        intField(0x18, i64(9))  // mod_revision
        intField(0x20, i64(17))  // version
        hasher.update(head)
        head.removeAll(keepingCapacity: true)
        bytesField(0x2a, value)
        intField(0x30, i64(25))  // lease
        hasher.update(head)
        return true
    }
}
