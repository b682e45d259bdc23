#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore

// Free functions, so the methods named close/write/rename below can reach the C calls.
private func sysClose(_ fd: Int32) -> Int32 { close(fd) }
private func sysWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
private func sysRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// A failed file operation, with errno's text.
struct FileError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    var description: String { "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))" }
}

/// An open file descriptor for a snapshot image. Used from pool threads, one operation at a time per file;
/// `close` is idempotent.
final class SnapshotFile: Sendable {
    let path: String
    private let descriptor: NIOLockedValueBox<Int32>

    private init(path: String, fd: Int32) {
        self.path = path
        self.descriptor = NIOLockedValueBox(fd)
    }

    private var fd: Int32 { descriptor.withLockedValue { $0 } }

    /// A new file (it must not exist), write-only, mode 0600.
    static func create(_ path: String) throws -> SnapshotFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError(operation: "create", path: path, code: errno) }
        return SnapshotFile(path: path, fd: fd)
    }

    /// An existing file, read-only, with its size.
    static func openForReading(_ path: String) throws -> (SnapshotFile, size: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open", path: path, code: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            _ = sysClose(fd)
            throw FileError(operation: "stat", path: path, code: code)
        }
        return (SnapshotFile(path: path, fd: fd), UInt64(info.st_size))
    }

    /// Writes all readable bytes of `buffer`.
    func write(_ buffer: ByteBuffer) throws {
        let fd = self.fd
        try buffer.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = sysWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError(operation: "write", path: path, code: errno)
                }
                done += n
            }
        }
    }

    /// Reads `count` bytes at `offset` into a new buffer that starts with the 5-byte gRPC prefix, ready to send.
    func readFramed(at offset: UInt64, count: Int) throws -> ByteBuffer {
        let fd = self.fd
        var buffer = ByteBufferAllocator().buffer(capacity: 5 + count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(count))
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var done = 0
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError(operation: "read", path: path, code: errno)
                }
                if n == 0 { throw FileError(operation: "read (file shrank)", path: path, code: EIO) }
                done += n
            }
            return count
        }
        return buffer
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw FileError(operation: "fsync", path: path, code: errno) }
    }

    func dataSync() throws {
        guard fdatasync(fd) == 0 else { throw FileError(operation: "fdatasync", path: path, code: errno) }
    }

    func close() {
        let fd = descriptor.withLockedValue { fd -> Int32 in defer { fd = -1 }; return fd }
        if fd >= 0 { _ = sysClose(fd) }
    }

    deinit {
        close()
    }
}

enum SnapshotFiles {
    static let prefix = "peer-snapshot-"
    static let partSuffix = ".part"

    /// Paths of an incoming image: written as `.part`, renamed to `.snap` once complete and synced.
    static func incomingPaths(directory: String, from: UInt64, index: UInt64, serial: UInt64) -> (part: String, final: String) {
        let nonce = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let base = "\(directory)/\(prefix)\(PeerWire.hex(from))-\(index)-\(serial)-\(nonce)"
        return (base + partSuffix, base + ".snap")
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func rename(_ from: String, to: String) throws {
        guard sysRename(from, to) == 0 else { throw FileError(operation: "rename", path: from, code: errno) }
    }

    /// fsync of the directory holding `path`, so a rename in it survives a crash.
    static func syncDirectory(of path: String) throws {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let fd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(operation: "open directory", path: directory, code: errno) }
        defer { _ = sysClose(fd) }
        guard fsync(fd) == 0 else { throw FileError(operation: "fsync directory", path: directory, code: errno) }
    }

    /// Removes `.part` files a previous run left behind (a crash in the middle of receiving a snapshot).
    static func removeLeftovers(in directory: String, logger: Logger) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix), name.hasSuffix(partSuffix) else { continue }
            remove("\(directory)/\(name)")
            logger.info("removed an incomplete incoming snapshot", metadata: ["file": "\(name)"])
        }
    }
}
