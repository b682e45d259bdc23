// Disk-error failpoints for tests of the real binary, from KEEL_FAILPOINTS (read once, when the first
// WAL or snapshot file is opened). Unset, the POSIX layer is used as is and nothing here runs.
//
//   KEEL_FAILPOINTS="fsync-eio-when=/tmp/t/trigger,fsync-sleep-ms=200,short-writes,write-enospc-when=/tmp/t/full"
//
// fsync-eio-when=PATH     while PATH exists, every fsync/fdatasync fails with EIO (fsyncgate)
// fsync-sleep-ms=N        every fsync/fdatasync takes N ms longer (a slow disk)
// short-writes            every pwrite writes at most half of what it is given (at least one byte)
// write-enospc-when=PATH  while PATH exists, every pwrite fails with ENOSPC (a full disk)
//
// Triggers are files so a test can start a healthy member, then break its disk at a moment it picks.
#if canImport(Glibc)
import Glibc
#endif

public struct Failpoints: Sendable, Equatable {
    public var fsyncErrorTrigger: String?
    public var fsyncSleepMilliseconds = 0
    public var shortWrites = false
    public var noSpaceTrigger: String?

    public init() {}

    public static let environmentVariable = "KEEL_FAILPOINTS"

    /// Parses the variable's text; the error names the item it cannot read.
    public static func parse(_ text: String) -> Result<Failpoints, FailpointError> {
        var f = Failpoints()
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            switch (parts[0], parts.count == 2 ? parts[1] : nil) {
            case ("fsync-eio-when", let path?) where !path.isEmpty: f.fsyncErrorTrigger = path
            case ("fsync-sleep-ms", let n?):
                guard let ms = Int(n), ms >= 0, ms <= 60_000 else { return .failure(FailpointError(item: String(item))) }
                f.fsyncSleepMilliseconds = ms
            case ("short-writes", nil): f.shortWrites = true
            case ("write-enospc-when", let path?) where !path.isEmpty: f.noSpaceTrigger = path
            default: return .failure(FailpointError(item: String(item)))
            }
        }
        return .success(f)
    }

    /// What `KEEL_FAILPOINTS` asks for; nil when unset or unreadable (the binary refuses to start then).
    static func fromEnvironment() -> Failpoints? {
        guard let raw = getenv(environmentVariable) else { return nil }
        return try? parse(String(cString: raw)).get()
    }
}

public struct FailpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var item: String
    public var description: String { "\(Failpoints.environmentVariable): cannot read '\(item)'" }
}

/// POSIX with failpoints in front.
final class FailpointFileSystem: WALFileSystem {
    let base = PosixFileSystem()
    let failpoints: Failpoints

    init(_ failpoints: Failpoints) { self.failpoints = failpoints }

    private func sync(_ op: String, _ path: String, _ body: () throws -> Void) throws {
        if failpoints.fsyncSleepMilliseconds > 0 { usleep(useconds_t(failpoints.fsyncSleepMilliseconds) * 1000) }
        if let trigger = failpoints.fsyncErrorTrigger, FileIO.exists(trigger) {
            throw WALError.io(operation: op, path: path, errno: EIO)
        }
        try body()
    }

    func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        if let trigger = failpoints.noSpaceTrigger, FileIO.exists(trigger) {
            throw WALError.io(operation: "pwrite", path: path, errno: ENOSPC)
        }
        let count = failpoints.shortWrites ? max(1, bytes.count / 2) : bytes.count
        return try base.pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[..<count]), at: offset, path: path)
    }

    func fdatasync(_ fd: Int32, path: String) throws { try sync("fdatasync", path) { try base.fdatasync(fd, path: path) } }
    func fsync(_ fd: Int32, path: String) throws { try sync("fsync", path) { try base.fsync(fd, path: path) } }
    func fsyncDirectory(_ dir: String) throws { try sync("fsync", dir) { try base.fsyncDirectory(dir) } }

    func open(_ path: String, _ flags: Int32) throws -> Int32 { try base.open(path, flags) }
    func close(_ fd: Int32) { base.close(fd) }
    func truncate(_ fd: Int32, to size: Int, path: String) throws { try base.truncate(fd, to: size, path: path) }
    func preallocate(_ fd: Int32, length: Int) { base.preallocate(fd, length: length) }
    func readPrefix(_ path: String, limit: Int) throws -> [UInt8] { try base.readPrefix(path, limit: limit) }
    func readAll(_ path: String) throws -> [UInt8] { try base.readAll(path) }
    func makeDirectory(_ dir: String) throws { try base.makeDirectory(dir) }
    func rename(_ from: String, _ to: String) throws { try base.rename(from, to) }
    func unlink(_ path: String) throws { try base.unlink(path) }
    func listDirectory(_ dir: String) throws -> [String] { try base.listDirectory(dir) }
    func fileSize(_ path: String) throws -> Int { try base.fileSize(path) }
    func exists(_ path: String) -> Bool { base.exists(path) }
    func lockDirectory(_ dir: String, name: String) throws -> any WALDirectoryLock { try base.lockDirectory(dir, name: name) }
}
