// Every way the WAL and snapshot files can fail, with enough context to act on.

public enum WALError: Error, Equatable, CustomStringConvertible {
    /// Data that was once durably written is damaged: open refuses to guess.
    case corrupt(file: String, offset: Int, reason: String)
    /// Another process (or another WAL instance) holds the directory lock.
    case locked(path: String)
    /// `create` on a directory that already holds segments.
    case alreadyExists(directory: String)
    /// `open` on a directory without segments.
    case notFound(directory: String)
    /// A record payload over `WALOptions.maxRecordSize`.
    case recordTooLarge(size: Int, limit: Int)
    /// Entries that would leave a gap or go below the snapshot mark.
    case invalidAppend(reason: String)
    /// A system call failed. After a failed write or sync the WAL refuses further use.
    case io(operation: String, path: String, errno: Int32)
    /// The WAL was closed, or poisoned by an earlier I/O failure.
    case closed

    public var description: String {
        switch self {
        case let .corrupt(file, offset, reason): return "wal: corrupt record in \(file) at offset \(offset): \(reason)"
        case let .locked(path): return "wal: \(path) is locked by another process"
        case let .alreadyExists(dir): return "wal: \(dir) already contains a WAL"
        case let .notFound(dir): return "wal: no WAL segments in \(dir)"
        case let .recordTooLarge(size, limit): return "wal: record of \(size) bytes exceeds limit \(limit)"
        case let .invalidAppend(reason): return "wal: invalid append: \(reason)"
        case let .io(op, path, err): return "wal: \(op) \(path) failed: errno \(err)"
        case .closed: return "wal: closed"
        }
    }
}
