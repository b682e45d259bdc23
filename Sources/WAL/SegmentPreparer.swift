import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The next segment file, created and preallocated ahead of need (etcd's WAL file pipeline): a rotation
/// then only writes the header into it, syncs and renames it. Creating the file and allocating a whole
/// segment ran on the Raft loop at every rotation, holding every proposal behind it.
///
/// A spare is `<dir>/spare-<instance>-<n>.wal.tmp`, opened, preallocated to the segment size and synced. A crash
/// leaves at most one behind, which `WAL.removeTempFiles` deletes at the next open like any unfinished
/// segment. On the real file system spares are prepared on a thread of their own; on another file layer
/// (the simulated disk of the power-loss tests) right after each rotation on the WAL's thread, so a
/// seeded run stays deterministic and its crashes still land inside a spare's preparation.
final class SegmentPreparer: Sendable {
    struct Spare {
        let fd: Int32
        let path: String
    }

    private struct State {
        var ready: Spare?
        var closed = false
        var counter: UInt64 = 0
    }

    private let directory: String
    private let segmentSize: Int
    private let fs: any WALFileSystem
    private let background: Bool
    private let state = Mutex(State())
    /// Spare names are unique in the process (`spare-<instance>-<n>`): an abandoned WAL's preparer,
    /// closed when it is deallocated, must not remove the spare of the WAL opened after it.
    private let instance: UInt64
    private static let instances = Atomic<UInt64>(0)
    /// Serial: one spare is prepared at a time, and `close` waits for the one under way.
    private let queue = DispatchQueue(label: "keel-wal-prepare")

    init(directory: String, segmentSize: Int, fs: any WALFileSystem, background: Bool) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.fs = fs
        self.background = background
        self.instance = Self.instances.add(1, ordering: .relaxed).newValue
        refill()
    }

    /// The prepared spare, if one is ready (nil: the caller creates the segment itself).
    func take() -> Spare? {
        state.withLock { s in
            defer { s.ready = nil }
            return s.ready
        }
    }

    /// Prepares the next spare: on the preparing thread, or here on another file layer.
    func refill() {
        if background { queue.async { self.prepareOne() } } else { prepareOne() }
    }

    /// Returns once the preparations asked for so far are done (tests).
    func waitUntilIdle() {
        if background { queue.sync {} }
    }

    /// Stops preparing and removes an unused spare.
    func close() {
        state.withLock { $0.closed = true }
        if background { queue.sync {} }
        if let spare = take() {
            fs.close(spare.fd)
            try? fs.unlink(spare.path)
        }
    }

    /// One spare, unless one is ready or the WAL closed; a failure (a full disk) leaves none, and the
    /// rotation then creates its segment itself and reports the error.
    private func prepareOne() {
        let name: String? = state.withLock { s in
            guard s.ready == nil, !s.closed else { return nil }
            s.counter += 1
            return "spare-\(instance)-\(s.counter)" + SegmentName.suffix + SegmentName.tempSuffix
        }
        guard let name else { return }
        let path = FileIO.join(directory, name)
        guard let fd = try? fs.open(path, O_WRONLY | O_CREAT | O_TRUNC) else { return }
        fs.preallocate(fd, length: segmentSize)
        do {
            try fs.fdatasync(fd, path: path)
        } catch {
            fs.close(fd)
            try? fs.unlink(path)
            return
        }
        let kept = state.withLock { s -> Bool in
            guard !s.closed, s.ready == nil else { return false }
            s.ready = Spare(fd: fd, path: path)
            return true
        }
        if !kept {
            fs.close(fd)
            try? fs.unlink(path)
        }
    }
}
