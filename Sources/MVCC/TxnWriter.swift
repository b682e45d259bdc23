import Backend

/// One write transaction of the store (a Put, a DeleteRange or a whole Txn): all its changes get
/// main revision `beginRev + 1` and increasing sub revisions. Runs under the state write lock
/// inside the batch's LMDB write transaction, so its reads see its own writes.
struct TxnWriter {
    let beginRev: Int64
    var changes: Int64 = 0
    var events: [Event] = []
    let carryPrevKV: Bool

    init(beginRev: Int64, carryPrevKV: Bool) {
        self.beginRev = beginRev
        self.carryPrevKV = carryPrevKV
    }

    /// The revision reads inside this txn observe (etcd's storeTxnWrite.Range).
    var readRevision: Int64 { changes > 0 ? beginRev + 1 : beginRev }
    /// The revision to report: bumped only if something changed.
    var resultRevision: Int64 { changes > 0 ? beginRev + 1 : beginRev }

    func range(_ r: RangeRequest, index: TreeIndex, tx: some BackendReading, compacted: Int64) throws(EtcdError) -> RangeResponse {
        let cur = readRevision
        let rev = try MVCCStore.resolve(r.revision, current: cur, compacted: compacted)
        let plan = RangePlan(r)
        let found = index.revisions(KeySpan(key: r.key, rangeEnd: r.rangeEnd), at: rev, limit: plan.fetchLimit,
                                    collect: !r.countOnly)
        var kvs: [KeyValue] = []
        kvs.reserveCapacity(found.revisions.count)
        for rv in found.revisions {
            kvs.append(try MVCCStore.fetch(rv, from: tx, withValue: !r.keysOnly || r.sortTarget == .value))
        }
        return plan.finish(kvs: kvs, count: found.count, revision: cur)
    }

    /// The live KeyValue of `key` as this txn sees it.
    func current(_ key: [UInt8], index: TreeIndex, tx: WriteTx) throws(EtcdError) -> KeyValue? {
        guard let found = index.get(key, at: readRevision) else { return nil }
        return try MVCCStore.fetch(found.modified, from: tx, withValue: true)
    }

    /// etcd's applierV3backend.Put (checks already done by the caller).
    mutating func put(_ p: PutRequest, index: inout TreeIndex, tx: inout WriteTx) throws -> PutResponse {
        var value = p.value
        var lease = p.lease
        var prev: KeyValue?
        if p.ignoreValue || p.ignoreLease || p.prevKV || carryPrevKV {
            prev = try current(p.key, index: index, tx: tx)
        }
        if p.ignoreValue || p.ignoreLease {
            guard let prev else { throw EtcdError.keyNotFound }
            if p.ignoreValue { value = prev.value }
            if p.ignoreLease { lease = prev.lease }
        }
        let rev = Revision(main: beginRev + 1, sub: changes)
        // The index first (one lookup answers the key's history and records the new revision): a backend
        // error below aborts the whole batch, and the store then reloads its index from the backend.
        let existing = index.put(p.key, rev, returningPrevious: ())
        let kv = KeyValue(key: p.key, createRevision: existing?.created.main ?? rev.main, modRevision: rev.main,
                          version: (existing?.version ?? 0) + 1, value: value, lease: lease)
        try tx.put(.key, RevisionKey.encode(rev), KeyValueCodec.encode(kv))
        changes += 1
        events.append(Event(kind: .put, kv: kv, prevKV: carryPrevKV ? prev : nil))
        return PutResponse(prevKV: p.prevKV ? prev : nil)
    }

    /// etcd's applierV3backend.DeleteRange.
    mutating func deleteRange(_ d: DeleteRangeRequest, index: inout TreeIndex, tx: inout WriteTx,
                              compacted: Int64) throws -> DeleteRangeResponse {
        var prevKVs: [KeyValue] = []
        if d.prevKV {
            prevKVs = try range(RangeRequest(key: d.key, rangeEnd: d.rangeEnd), index: index, tx: tx,
                                compacted: compacted).kvs
        }
        let keys = index.liveKeys(KeySpan(key: d.key, rangeEnd: d.rangeEnd), at: readRevision)
        for key in keys { try delete(key, index: &index, tx: &tx) }
        return DeleteRangeResponse(deleted: Int64(keys.count), prevKVs: prevKVs)
    }

    /// Writes a tombstone for a live key.
    mutating func delete(_ key: [UInt8], index: inout TreeIndex, tx: inout WriteTx) throws {
        let prev = carryPrevKV ? try current(key, index: index, tx: tx) : nil
        let rev = Revision(main: beginRev + 1, sub: changes)
        try tx.put(.key, RevisionKey.encode(rev, tombstone: true), KeyValueCodec.encode(KeyValue(key: key)))
        let ok = index.tombstone(key, rev)
        precondition(ok, "tombstone of a key that is not live")
        changes += 1
        events.append(Event(kind: .delete, kv: KeyValue(key: key, modRevision: rev.main), prevKV: prev))
    }
}
