// An exclusive flock on a lock file, so two processes never append to one WAL.
// flock locks belong to the open file description, so a second open in the same process
// conflicts too, which is what we want (and what the tests rely on).
#if canImport(Glibc)
import Glibc
#endif

final class DirectoryLock {
    let path: String
    private var fd: Int32

    init(directory: String, name: String = "wal.lock") throws {
        path = FileIO.join(directory, name)
        fd = try FileIO.open(path, O_RDWR | O_CREAT)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let err = errno
            FileIO.close(fd)
            if err == EWOULDBLOCK { throw WALError.locked(path: path) }
            throw WALError.io(operation: "flock", path: path, errno: err)
        }
    }

    func release() {
        guard fd >= 0 else { return }
        FileIO.close(fd)  // closing the only descriptor drops the flock
        fd = -1
    }

    deinit { release() }
}
