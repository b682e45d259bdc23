import Backend

/// etcd's Txn apply: evaluate compares (the "txn path" through nested txns), check the chosen
/// branch, then execute it inside one TxnWriter so all writes share one revision.
extension TxnWriter {
    mutating func txn(_ t: TxnRequest, index: inout TreeIndex, tx: inout WriteTx, compacted: Int64,
                      leases: any LeaseChecker) throws -> TxnResponse {
        // 1. Decide every branch against the state before the txn (etcd's compareToPath).
        var path: [Bool] = []
        try decidePath(t, index: index, tx: tx, into: &path)
        // 2. Check the chosen operations before writing anything.
        var cursor = 0
        try checkOps(t, path: path, cursor: &cursor, index: index, tx: tx, compacted: compacted, leases: leases)
        // 3. Execute.
        cursor = 0
        return try execute(t, path: path, cursor: &cursor, index: &index, tx: &tx, compacted: compacted)
    }

    /// A txn whose branches only read (etcd's isTxnReadonly): the same compare, check and range rules,
    /// over a read snapshot, writing nothing.
    func readOnlyTxn(_ t: TxnRequest, index: TreeIndex, tx: some BackendReading, compacted: Int64) throws -> TxnResponse {
        precondition(t.isReadOnly, "readOnlyTxn needs a txn without writes")
        var path: [Bool] = []
        try decidePath(t, index: index, tx: tx, into: &path)
        var cursor = 0
        try checkOps(t, path: path, cursor: &cursor, index: index, tx: tx, compacted: compacted, leases: NoLeases())
        cursor = 0
        return try readOnlyExecute(t, path: path, cursor: &cursor, index: index, tx: tx, compacted: compacted)
    }

    private func readOnlyExecute(_ t: TxnRequest, path: [Bool], cursor: inout Int, index: TreeIndex,
                                 tx: some BackendReading, compacted: Int64) throws -> TxnResponse {
        let succeeded = path[cursor]
        cursor += 1
        var responses: [ResponseOp] = []
        for op in succeeded ? t.success : t.failure {
            switch op {
            case .range(let r):
                responses.append(.range(try range(r, index: index, tx: tx, compacted: compacted)))
            case .put, .deleteRange, .txn, .none:
                preconditionFailure("checked by isReadOnly")
            }
        }
        return TxnResponse(succeeded: succeeded, responses: responses)
    }

    private func decidePath(_ t: TxnRequest, index: TreeIndex, tx: some BackendReading, into path: inout [Bool]) throws {
        var ok = true
        for c in t.compare where !(try evaluate(c, index: index, tx: tx)) {
            ok = false
            break
        }
        path.append(ok)
        for op in ok ? t.success : t.failure {
            if case .txn(let nested) = op { try decidePath(nested, index: index, tx: tx, into: &path) }
        }
    }

    /// etcd's applyCompare: every key in the range must satisfy it; with no key, VALUE compares
    /// fail and the others compare against a zero KeyValue.
    func evaluate(_ c: Compare, index: TreeIndex, tx: some BackendReading) throws -> Bool {
        let found = index.revisions(KeySpan(key: c.key, rangeEnd: c.rangeEnd), at: readRevision, limit: 0)
        if found.revisions.isEmpty {
            if c.target == .value { return false }
            return Self.compare(c, KeyValue(key: []))
        }
        for rev in found.revisions {
            let kv = try MVCCStore.fetch(rev, from: tx, withValue: c.target == .value)
            if !Self.compare(c, kv) { return false }
        }
        return true
    }

    static func compare(_ c: Compare, _ kv: KeyValue) -> Bool {
        let order: Int
        switch c.target {
        case .value:
            order = kv.value == c.value ? 0 : (kv.value.lexicographicallyPrecedes(c.value) ? -1 : 1)
        case .create: order = three(kv.createRevision, c.createRevision)
        case .mod: order = three(kv.modRevision, c.modRevision)
        case .version: order = three(kv.version, c.version)
        case .lease: order = three(kv.lease, c.lease)
        }
        switch c.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        }
    }

    private static func three(_ a: Int64, _ b: Int64) -> Int { a < b ? -1 : (a > b ? 1 : 0) }

    /// etcd's checkRequests with checkRequestPut and checkRequestRange over the chosen branches.
    private func checkOps(_ t: TxnRequest, path: [Bool], cursor: inout Int, index: TreeIndex, tx: some BackendReading,
                          compacted: Int64, leases: any LeaseChecker) throws {
        let ops = path[cursor] ? t.success : t.failure
        cursor += 1
        for op in ops {
            switch op {
            case .txn(let nested):
                try checkOps(nested, path: path, cursor: &cursor, index: index, tx: tx, compacted: compacted,
                             leases: leases)
            case .put(let p):
                if p.ignoreValue || p.ignoreLease, index.get(p.key, at: readRevision) == nil {
                    throw EtcdError.keyNotFound
                }
                if p.lease != 0 && !leases.exists(p.lease) { throw EtcdError.leaseNotFound }
            case .range(let r):
                if r.revision > 0 {
                    if r.revision > readRevision { throw EtcdError.futureRevision }
                    if r.revision < compacted { throw EtcdError.compacted }
                }
            case .deleteRange, .none:
                break
            }
        }
    }

    private mutating func execute(_ t: TxnRequest, path: [Bool], cursor: inout Int, index: inout TreeIndex,
                                  tx: inout WriteTx, compacted: Int64) throws -> TxnResponse {
        let succeeded = path[cursor]
        cursor += 1
        var responses: [ResponseOp] = []
        responses.reserveCapacity(succeeded ? t.success.count : t.failure.count)
        for op in succeeded ? t.success : t.failure {
            switch op {
            case .range(let r):
                responses.append(.range(try range(r, index: index, tx: tx, compacted: compacted)))
            case .put(let p):
                responses.append(.put(try put(p, index: &index, tx: &tx)))
            case .deleteRange(let d):
                responses.append(.deleteRange(try deleteRange(d, index: &index, tx: &tx, compacted: compacted)))
            case .txn(let nested):
                responses.append(.txn(try execute(nested, path: path, cursor: &cursor, index: &index, tx: &tx,
                                                  compacted: compacted)))
            case .none:
                break
            }
        }
        return TxnResponse(succeeded: succeeded, responses: responses)
    }
}

extension TxnRequest {
    /// etcd's isTxnReadonly: every op of both branches is a Range. A nested txn or an empty op does not
    /// count as read-only there (it goes through the log), and neither does it here.
    public var isReadOnly: Bool {
        func onlyRanges(_ ops: [RequestOp]) -> Bool {
            ops.allSatisfy { if case .range = $0 { return true } else { return false } }
        }
        return onlyRanges(success) && onlyRanges(failure)
    }

    /// Bytes a txn would add if every put in either branch ran (etcd's quota cost is similar):
    /// 0 means the txn cannot grow the database and is allowed under a NOSPACE alarm.
    public var putCost: Int64 {
        var cost: Int64 = 0
        for op in success + failure {
            switch op {
            case .put(let p): cost += p.putCost
            case .txn(let nested): cost += nested.putCost
            default: break
            }
        }
        return cost
    }
}

extension PutRequest {
    /// Approximate bytes a put adds to the backend: key, value, revision key and encoding header.
    public var putCost: Int64 { Int64(key.count + value.count + KeyValueCodec.headerLength + RevisionKey.length + 16) }
}
