import Backend
import Foundation
@testable import MVCC

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A fresh temp directory for one test's LMDB file.
func tempDir() -> String {
    var template = Array((NSTemporaryDirectory() + "keel-mvcc-XXXXXX").utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil)
    return String(cString: p!)
}

func removeDir(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// Leases 7 and 8 exist in every harness store (written straight into the lease bucket, so no log
/// index is spent on granting them).
func grantTestLeases(_ backend: Backend) throws {
    try backend.write { tx in
        for id: Int64 in [7, 8] where try tx.get(.lease, LeaseTable.bucketKey(id)) == nil {
            try tx.put(.lease, LeaseTable.bucketKey(id), LeaseTable.bucketValue(LeaseRecord(id: id, ttl: 60)))
        }
    }
}

/// A store plus a monotonically increasing raft index to feed it.
final class Harness {
    let dir: String
    var backend: Backend
    var store: MVCCStore
    var nextIndex: UInt64 = 1
    let quota: Int64
    let mapSize: Int?

    init(quota: Int64 = BackendConfig.defaultQuotaBytes, mapSize: Int? = nil, dir: String = tempDir(),
         onBackendFailure: (@Sendable (Error) -> Void)? = nil) throws {
        self.dir = dir
        self.quota = quota
        self.mapSize = mapSize
        backend = try Backend(config: BackendConfig(directory: dir, quotaBytes: quota, mapSize: mapSize))
        try grantTestLeases(backend)
        store = try MVCCStore(backend: backend, eventsCarryPrevKV: true, onBackendFailure: onBackendFailure)
    }

    deinit {
        backend.close()
        removeDir(dir)
    }

    func reopen() throws {
        backend.close()
        backend = try Backend(config: BackendConfig(directory: dir, quotaBytes: quota, mapSize: mapSize))
        store = try MVCCStore(backend: backend, eventsCarryPrevKV: true)
    }

    @discardableResult
    func apply(_ op: WriteOp) -> ApplyResult {
        defer { nextIndex += 1 }
        return store.apply(index: nextIndex, op)
    }

    @discardableResult
    func put(_ k: String, _ v: String, lease: Int64 = 0) -> ApplyResult {
        apply(.put(PutRequest(key: b(k), value: b(v), lease: lease)))
    }

    @discardableResult
    func delete(_ k: String, _ end: String = "", prevKV: Bool = false) -> ApplyResult {
        apply(.deleteRange(DeleteRangeRequest(key: b(k), rangeEnd: b(end), prevKV: prevKV)))
    }

    func get(_ k: String, _ end: [UInt8] = [], rev: Int64 = 0) throws -> RangeResponse {
        try store.range(RangeRequest(key: b(k), rangeEnd: end, revision: rev))
    }

    func value(_ k: String, rev: Int64 = 0) throws -> String? {
        try get(k, rev: rev).kvs.first.map { String(decoding: $0.value, as: UTF8.self) }
    }
}

func keys(_ r: RangeResponse) -> [String] { r.kvs.map { String(decoding: $0.key, as: UTF8.self) } }
