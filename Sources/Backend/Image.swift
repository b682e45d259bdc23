import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-database images: what a leader sends a follower that is too far behind (etcd's
/// snapshot of the backend), and how the follower installs one.
extension Backend {
    /// Writes a consistent, compacted copy of the environment to `path` (created or truncated)
    /// and fsyncs it; returns its size in bytes. LMDB copies from one read transaction page by
    /// page, so the copy is of one committed state, writers are not blocked, and the database is
    /// never loaded into memory. MDB_CP_COMPACT leaves free pages out and renumbers the rest.
    /// The result opens with `init(readingImageAt:)`.
    public func writeImage(to path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BackendError.posix("open \(path)") }
        defer { closeDescriptor(fd) }
        try check(mdb_env_copyfd2(env, fd, UInt32(MDB_CP_COMPACT)))
        guard fsync(fd) == 0 else { throw BackendError.posix("fsync \(path)") }
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else { throw BackendError.posix("lseek \(path)") }
        // The file's directory entry must be durable too before the image is announced.
        try Backend.syncDirectory(of: path)
        return Int(size)
    }

    /// Size of the environment's data file (for an image: the whole image).
    public func fileSize() throws -> Int {
        var fd: Int32 = -1
        try check(mdb_env_get_fd(env, &fd))
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw BackendError.posix("fstat") }
        return Int(st.st_size)
    }

    private static func syncDirectory(of path: String) throws {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BackendError.posix("open \(dir)") }
        defer { closeDescriptor(fd) }
        guard fsync(fd) == 0 else { throw BackendError.posix("fsync \(dir)") }
    }
}

/// `close(2)`; a free function because inside `Backend` the name means `Backend.close()`.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }

extension BackendError {
    static func posix(_ what: String) -> BackendError {
        let code = errno
        return .lmdb(code: code, message: "\(what): \(String(cString: strerror(code)))")
    }
}

extension WriteTx {
    /// Empties every bucket of this transaction's environment and copies every record of every
    /// bucket of `source` (a snapshot of another environment, typically an image), record by
    /// record through cursors: memory stays bounded (LMDB spills dirty pages of a large
    /// transaction to the file). Nothing is visible to readers until the transaction commits.
    /// The alarm set becomes the image's when it commits.
    public mutating func replaceContents(with source: borrowing ReadTx) throws {
        precondition(source.backend !== backend, "an environment cannot be copied onto itself")
        for bucket in Bucket.allCases {
            let target = backend.dbi(bucket)
            try check(mdb_drop(txn, target, 0))
            var cursor: OpaquePointer?
            try check(mdb_cursor_open(source.txn, source.backend.dbi(bucket), &cursor))
            defer { mdb_cursor_close(cursor) }
            var k = MDB_val()
            var v = MDB_val()
            var rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
            while rc == MDB_SUCCESS {
                // Keys arrive in order into an empty database: APPEND skips the tree search.
                try check(mdb_put(txn, target, &k, &v, UInt32(MDB_APPEND)))
                bytesWritten += Int64(k.mv_size + v.mv_size)
                rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
            }
            if rc != MDB_NOTFOUND { try check(rc) }
        }
        pendingAlarms = try storedAlarms()
    }
}
