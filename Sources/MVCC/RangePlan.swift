/// The request-level part of etcd's Range (applierV3backend.Range): how many revisions to fetch
/// from the index, then filter, sort and truncate the result.
struct RangePlan {
    let request: RangeRequest
    /// 0 = all. Sorting or min/max filters need every match; otherwise limit+1 to learn `more`.
    let fetchLimit: Int

    init(_ r: RangeRequest) {
        request = r
        let needsAll = r.sortOrder != .none || r.minModRevision != 0 || r.maxModRevision != 0
            || r.minCreateRevision != 0 || r.maxCreateRevision != 0
        fetchLimit = (needsAll || r.limit <= 0) ? 0 : Int(r.limit) + 1
    }

    /// Applies filters (after the count is taken, as etcd does), sorting and the limit.
    func finish(kvs input: [KeyValue], count: Int, revision: Int64) -> RangeResponse {
        let r = request
        var kvs = input
        if r.maxModRevision != 0 { kvs.removeAll { $0.modRevision > r.maxModRevision } }
        if r.minModRevision != 0 { kvs.removeAll { $0.modRevision < r.minModRevision } }
        if r.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > r.maxCreateRevision } }
        if r.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < r.minCreateRevision } }

        var order = r.sortOrder
        // The index yields key order already; any other target with order NONE sorts ascending.
        if r.sortTarget != .key && order == .none { order = .ascend }
        if order != .none {
            let ascending: (KeyValue, KeyValue) -> Bool
            switch r.sortTarget {
            case .key: ascending = { $0.key.lexicographicallyPrecedes($1.key) }
            case .version: ascending = { $0.version < $1.version }
            case .create: ascending = { $0.createRevision < $1.createRevision }
            case .mod: ascending = { $0.modRevision < $1.modRevision }
            case .value: ascending = { $0.value.lexicographicallyPrecedes($1.value) }
            }
            // Stable merge sort (Swift's sort is stable): ties keep key order, deterministically.
            if order == .ascend {
                kvs.sort(by: ascending)
            } else {
                kvs.sort { ascending($1, $0) }
            }
        }

        var more = false
        if r.limit > 0 && kvs.count > Int(r.limit) {
            kvs.removeLast(kvs.count - Int(r.limit))
            more = true
        }
        if r.keysOnly {
            for i in kvs.indices { kvs[i].value = [] }
        }
        return RangeResponse(kvs: kvs, more: more, count: Int64(count), revision: revision)
    }
}
