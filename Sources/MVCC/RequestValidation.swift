/// The checks etcd's v3rpc layer (key.go) makes before proposing a request.
public enum RequestValidation {
    public static let defaultMaxTxnOps = 128

    public static func check(_ r: RangeRequest) throws(EtcdError) {
        if r.key.isEmpty { throw EtcdError.emptyKey }
    }

    public static func check(_ r: PutRequest) throws(EtcdError) {
        if r.key.isEmpty { throw EtcdError.emptyKey }
        if r.ignoreValue && !r.value.isEmpty { throw EtcdError.valueProvided }
        if r.ignoreLease && r.lease != 0 { throw EtcdError.leaseProvided }
    }

    public static func check(_ r: DeleteRangeRequest) throws(EtcdError) {
        if r.key.isEmpty { throw EtcdError.emptyKey }
    }

    /// checkTxnRequest followed by checkIntervals on both branches, as etcd's kvServer.Txn.
    public static func check(_ r: TxnRequest, maxTxnOps: Int = defaultMaxTxnOps) throws(EtcdError) {
        try checkShape(r, maxTxnOps: maxTxnOps)
        _ = try checkIntervals(r.success)
        _ = try checkIntervals(r.failure)
    }

    /// etcd's checkTxnRequest: op counts (nested txns get the remaining budget) and per-op checks.
    private static func checkShape(_ r: TxnRequest, maxTxnOps: Int) throws(EtcdError) {
        let opc = max(r.compare.count, r.success.count, r.failure.count)
        if opc > maxTxnOps { throw EtcdError.tooManyOps }
        for c in r.compare where c.key.isEmpty { throw EtcdError.emptyKey }
        for op in r.success + r.failure {
            switch op {
            case .range(let q): try check(q)
            case .put(let q): try check(q)
            case .deleteRange(let q): try check(q)
            case .txn(let q): try checkShape(q, maxTxnOps: maxTxnOps - opc)
            case .none: throw EtcdError.keyNotFound
            }
        }
    }

    /// A delete's key interval (etcd's affine intervals: empty range_end = the single key;
    /// "\0" or any end sorting before the key's successor is handled by `contains`).
    private struct Interval {
        let key: [UInt8]
        let end: [UInt8]  // empty: point
        func contains(_ k: [UInt8]) -> Bool {
            if end.isEmpty { return k == key }
            // etcd's StringAffineInterval: [key, end), "\0" end meaning +infinity.
            if end == [0] { return !k.lexicographicallyPrecedes(key) }
            return !k.lexicographicallyPrecedes(key) && k.lexicographicallyPrecedes(end)
        }
    }

    /// etcd's checkIntervals: no key may be put twice, nor put and deleted, in one branch,
    /// looking into nested txns (a key put in both branches of one nested txn is fine).
    private static func checkIntervals(_ ops: [RequestOp]) throws(EtcdError) -> (puts: Set<[UInt8]>, dels: [Interval]) {
        var dels: [Interval] = []
        for op in ops {
            if case .deleteRange(let d) = op { dels.append(Interval(key: d.key, end: d.rangeEnd)) }
        }
        func deleted(_ k: [UInt8]) -> Bool { dels.contains { $0.contains(k) } }

        var puts = Set<[UInt8]>()
        for op in ops {
            guard case .txn(let nested) = op else { continue }
            let thenSide = try checkIntervals(nested.success)
            let elseSide = try checkIntervals(nested.failure)
            for k in thenSide.puts {
                if puts.contains(k) || deleted(k) { throw EtcdError.duplicateKey }
                puts.insert(k)
            }
            for k in elseSide.puts {
                if puts.contains(k) && !thenSide.puts.contains(k) { throw EtcdError.duplicateKey }
                if deleted(k) { throw EtcdError.duplicateKey }
                puts.insert(k)
            }
            dels += thenSide.dels
            dels += elseSide.dels
        }
        for op in ops {
            guard case .put(let p) = op else { continue }
            if puts.contains(p.key) || deleted(p.key) { throw EtcdError.duplicateKey }
            puts.insert(p.key)
        }
        return (puts, dels)
    }
}
