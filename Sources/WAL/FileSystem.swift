// The file layer under the WAL and snapshot files. Production uses `PosixFileSystem` (plain syscalls);
// tests swap in a simulated disk that keeps unsynced writes apart and drops or tears them on a
// simulated power loss, and the `keel` binary can wrap the POSIX layer in failpoints
// (KEEL_FAILPOINTS). The layer is chosen once, when a WAL is opened. On the plain POSIX layer the WAL's
// hot path (its pwrite and fdatasync) calls the syscall wrappers directly (WAL.direct); everything else,
// and every call on another layer, is one protocol witness call in front of a syscall.
#if canImport(Glibc)
import Glibc
#endif

/// A lock that keeps a second writer out of a WAL directory until released.
public protocol WALDirectoryLock: AnyObject {
    func release()
}

/// Every file operation the WAL and snapshot code performs. Handles are small integers (file
/// descriptors for POSIX). Errors are `WALError.io` carrying the errno.
public protocol WALFileSystem: AnyObject, Sendable {
    func open(_ path: String, _ flags: Int32) throws -> Int32
    func close(_ fd: Int32)
    /// One positional write; returns how many bytes were written (> 0), or throws.
    func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int
    func fdatasync(_ fd: Int32, path: String) throws
    func fsync(_ fd: Int32, path: String) throws
    func truncate(_ fd: Int32, to size: Int, path: String) throws
    /// Best effort: reserve blocks, extending the file to `length` (the rest reads as zeros).
    func preallocate(_ fd: Int32, length: Int)
    /// The first `limit` bytes of a file (fewer if it is shorter).
    func readPrefix(_ path: String, limit: Int) throws -> [UInt8]
    func readAll(_ path: String) throws -> [UInt8]
    /// Makes creates, renames and unlinks in `dir` durable.
    func fsyncDirectory(_ dir: String) throws
    func makeDirectory(_ dir: String) throws
    func rename(_ from: String, _ to: String) throws
    func unlink(_ path: String) throws
    func listDirectory(_ dir: String) throws -> [String]
    func fileSize(_ path: String) throws -> Int
    func exists(_ path: String) -> Bool
    func lockDirectory(_ dir: String, name: String) throws -> any WALDirectoryLock
}

extension WALFileSystem {
    /// Writes until everything is written (one call in the common case). Returns the calls made.
    @discardableResult
    func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        var done = 0
        var calls = 0
        while done < bytes.count {
            let n = try pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + done, path: path)
            precondition(n > 0 && n <= bytes.count - done, "pwrite returned \(n)")
            done += n
            calls += 1
        }
        return calls
    }

    /// mkdir, then fsync of the parent, so the directory entry itself survives a power loss.
    func makeDurableDirectory(_ dir: String) throws {
        let existed = exists(dir)
        try makeDirectory(dir)
        if !existed { try fsyncDirectory(FileIO.parent(dir)) }
    }
}

/// The production layer: direct syscalls (see FileIO).
public final class PosixFileSystem: WALFileSystem {
    public static let shared = PosixFileSystem()
    public init() {}

    public func open(_ path: String, _ flags: Int32) throws -> Int32 { try FileIO.open(path, flags) }
    public func close(_ fd: Int32) { FileIO.close(fd) }
    public func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        try FileIO.pwrite(fd, bytes, at: offset, path: path)
    }
    public func fdatasync(_ fd: Int32, path: String) throws { try FileIO.fdatasync(fd, path: path) }
    public func fsync(_ fd: Int32, path: String) throws { try FileIO.fsync(fd, path: path) }
    public func truncate(_ fd: Int32, to size: Int, path: String) throws { try FileIO.truncate(fd, to: size, path: path) }
    public func preallocate(_ fd: Int32, length: Int) { FileIO.preallocate(fd, length: length) }
    public func readPrefix(_ path: String, limit: Int) throws -> [UInt8] { try FileIO.readPrefix(path, limit: limit) }
    public func readAll(_ path: String) throws -> [UInt8] { try FileIO.readAll(path) }
    public func fsyncDirectory(_ dir: String) throws { try FileIO.fsyncDirectory(dir) }
    public func makeDirectory(_ dir: String) throws { try FileIO.makeDirectory(dir) }
    public func rename(_ from: String, _ to: String) throws { try FileIO.rename(from, to) }
    public func unlink(_ path: String) throws { try FileIO.unlink(path) }
    public func listDirectory(_ dir: String) throws -> [String] { try FileIO.listDirectory(dir) }
    public func fileSize(_ path: String) throws -> Int { try FileIO.fileSize(path) }
    public func exists(_ path: String) -> Bool { FileIO.exists(path) }
    public func lockDirectory(_ dir: String, name: String) throws -> any WALDirectoryLock {
        try DirectoryLock(directory: dir, name: name)
    }
}

public enum WALFileSystems {
    /// The layer WALs and snapshot files use unless told otherwise: POSIX, wrapped in failpoints
    /// only when KEEL_FAILPOINTS is set (read once, on first use).
    public static let processDefault: any WALFileSystem = Failpoints.fromEnvironment().map(FailpointFileSystem.init)
        ?? PosixFileSystem.shared
}
