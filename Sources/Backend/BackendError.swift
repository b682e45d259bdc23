import CLMDB

/// Failures of the LMDB layer. `mapFull` and `quotaExceeded` are recoverable (the write is rolled
/// back, reads and deletes keep working); anything else means the environment is unusable.
public enum BackendError: Error, Equatable, Sendable {
    /// The write would grow the database past `--quota-backend-bytes`.
    case quotaExceeded
    /// LMDB's map (address space reservation) is full: MDB_MAP_FULL.
    case mapFull
    /// Too many dirty pages in one transaction: MDB_TXN_FULL.
    case txnFull
    /// Any other LMDB error code, with LMDB's description.
    case lmdb(code: Int32, message: String)

    static func from(_ rc: Int32) -> BackendError {
        switch rc {
        case MDB_MAP_FULL: return .mapFull
        case MDB_TXN_FULL: return .txnFull
        default: return .lmdb(code: rc, message: String(cString: mdb_strerror(rc)))
        }
    }
}

/// Throws the matching `BackendError` when an LMDB call did not return MDB_SUCCESS.
@inline(__always)
func check(_ rc: Int32) throws {
    if rc != MDB_SUCCESS { throw BackendError.from(rc) }
}
