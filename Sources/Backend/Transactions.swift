import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What both transaction kinds can read. Values handed to closures point into LMDB's map and are
/// only valid inside the closure; `get` copies.
public protocol BackendReading {
    var txn: OpaquePointer { get }
    var backend: Backend { get }
}

extension BackendReading {
    /// Calls `body` with the stored bytes of `key`, or returns nil when absent (no copy).
    public func withValue<T>(_ bucket: Bucket, _ key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T? {
        var val = MDB_val()
        let rc = key.withUnsafeBytes { kb -> Int32 in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            return mdb_get(txn, backend.dbi(bucket), &k, &val)
        }
        if rc == MDB_NOTFOUND { return nil }
        try check(rc)
        return try body(UnsafeRawBufferPointer(start: val.mv_data, count: val.mv_size))
    }

    /// A copy of the value stored under `key`, or nil.
    public func get(_ bucket: Bucket, _ key: [UInt8]) throws -> [UInt8]? {
        try withValue(bucket, key) { Array($0) }
    }

    /// Iterates keys in `[from, to)` in byte order (`to == nil`: to the end of the bucket).
    /// `body` returns false to stop early. Key and value buffers are only valid during the call.
    public func scan(_ bucket: Bucket, from: [UInt8], to: [UInt8]? = nil,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(txn, backend.dbi(bucket), &cursor))
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        if from.isEmpty {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        } else {
            rc = from.withUnsafeBytes { fb -> Int32 in
                k = MDB_val(mv_size: fb.count, mv_data: UnsafeMutableRawPointer(mutating: fb.baseAddress))
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
        }
        while rc == MDB_SUCCESS {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            if let to, compareBytes(key, to) >= 0 { return }
            let value = UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            if try !body(key, value) { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc) }
    }
}

/// Lexicographic byte comparison (memcmp, then length), the order LMDB uses by default.
@inline(__always)
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
    b.withUnsafeBytes { bb in compareBytes(a, bb) }
}

@inline(__always)
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return c < 0 ? -1 : 1 }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// A read-only snapshot. Must be ended exactly once (`Backend.read` does it for you).
public struct ReadTx: BackendReading {
    public let backend: Backend
    public let txn: OpaquePointer

    /// Releases the snapshot (mdb_txn_abort frees a read-only transaction).
    public func end() { mdb_txn_abort(txn) }
}

/// The single write transaction inside `Backend.write`. Reads through it see its own writes.
public struct WriteTx: BackendReading {
    public let backend: Backend
    public let txn: OpaquePointer
    /// Bytes of keys and values written so far: the quota check counts them before commit.
    public internal(set) var bytesWritten: Int64 = 0
    /// The alarm set this transaction leaves, once it touched the alarm bucket (nil: untouched).
    var pendingAlarms: Set<AlarmMember>?

    init(backend: Backend, txn: OpaquePointer) {
        self.backend = backend
        self.txn = txn
    }

    public mutating func put(_ bucket: Bucket, _ key: [UInt8], _ value: [UInt8]) throws {
        precondition(!key.isEmpty, "LMDB keys must not be empty")
        let rc = key.withUnsafeBytes { kb in
            value.withUnsafeBytes { vb -> Int32 in
                var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
                var v = MDB_val(mv_size: vb.count, mv_data: UnsafeMutableRawPointer(mutating: vb.baseAddress))
                return mdb_put(txn, backend.dbi(bucket), &k, &v, 0)
            }
        }
        try check(rc)
        bytesWritten += Int64(key.count + value.count)
    }

    /// Deletes `key`; returns false when it was not present.
    @discardableResult
    public mutating func delete(_ bucket: Bucket, _ key: [UInt8]) throws -> Bool {
        let rc = key.withUnsafeBytes { kb -> Int32 in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            return mdb_del(txn, backend.dbi(bucket), &k, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try check(rc)
        return true
    }
}
