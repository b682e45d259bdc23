// An exclusive lock on the WAL directory, so two writers never append to one log.
//
// Across processes: a POSIX record lock (fcntl F_SETLK). Unlike flock and OFD locks, it belongs to the
// process and is not shared with a forked child: with flock, a sibling thread's fork-then-exec (a test
// spawning etcdctl, say) briefly held our lock's open file description, so a close-and-reopen in that
// window failed with "locked by another process". Within the process: a registry of locked files, since
// record locks never conflict with their own process. POSIX locks drop when the process closes *any*
// descriptor of the file; only this type opens it, and the registry lets it do so once.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

final class DirectoryLock: WALDirectoryLock {
    let path: String
    private var fd: Int32
    private let identity: FileIdentity

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static let lockedInThisProcess = Mutex<Set<FileIdentity>>([])

    init(directory: String, name: String = "wal.lock") throws {
        path = FileIO.join(directory, name)
        fd = try FileIO.open(path, O_RDWR | O_CREAT)
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let err = errno
            FileIO.close(fd)
            throw WALError.io(operation: "fstat", path: path, errno: err)
        }
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        self.identity = identity
        let claimed = Self.lockedInThisProcess.withLock { $0.insert(identity).inserted }
        guard claimed else {
            FileIO.close(fd)
            throw WALError.locked(path: path)
        }
        var request = Glibc.flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = 0
        request.l_len = 0  // the whole file
        while fcntl(fd, F_SETLK, &request) != 0 {
            if errno == EINTR { continue }
            let err = errno
            FileIO.close(fd)
            _ = Self.lockedInThisProcess.withLock { $0.remove(identity) }
            if err == EACCES || err == EAGAIN { throw WALError.locked(path: path) }
            throw WALError.io(operation: "fcntl(F_SETLK)", path: path, errno: err)
        }
    }

    func release() {
        guard fd >= 0 else { return }
        FileIO.close(fd)  // drops the record lock
        fd = -1
        _ = Self.lockedInThisProcess.withLock { $0.remove(identity) }
    }

    deinit { release() }
}
