// The write-ahead log: append-only segment files of framed, checksummed records.
//
// Durability contract: after `sync()` (or `save(..., sync: true)`) returns, everything appended
// before it survives kill -9 and power loss. Cost of a save in the common case: one pwrite of
// the whole buffer plus one fdatasync. Not thread-safe: one owner (the Raft loop) drives it.
#if canImport(Glibc)
import Glibc
#endif

public final class WAL {
    public let directory: String
    public let options: WALOptions
    public internal(set) var stats = WALStats()
    /// Called after each fdatasync of `sync()` with how long it took, in nanoseconds (etcd's
    /// etcd_disk_wal_fsync_duration_seconds). Set before the owner starts writing.
    public var onSyncDuration: ((UInt64) -> Void)?
    /// Index of the last entry appended (or of the snapshot mark if later).
    public internal(set) var lastIndex: UInt64

    struct Segment {
        var name: SegmentName
        var maxEntryIndex: UInt64
    }

    var lock: (any WALDirectoryLock)?
    /// The file layer (options.fileSystem), fixed at open.
    let fs: any WALFileSystem
    /// True when `fs` is plain POSIX: the hot path (one pwrite and one fdatasync per batch) then calls the
    /// syscall wrappers directly, so production pays a branch on this flag, not a dynamic dispatch.
    let direct: Bool
    let metadata: [UInt8]
    /// Every segment on disk, oldest first; the last one is being written.
    var segments: [Segment]
    var fd: Int32
    var activePath: String
    /// Bytes of the active segment on disk (written, maybe not synced).
    var writeOffset: Int
    /// Bytes of the active segment known to be on stable storage.
    var syncedOffset: Int
    var headerEnd: Int
    var encoder = RecordEncoder()
    var hardState: WALHardState?
    var mark: WALSnapshotMark?
    var markSegment: UInt64?
    /// Set by close or by a failed write/sync: after a failed fsync the page cache state is
    /// unknown, so the only safe move is to stop and let a restart replay from disk.
    var unusable: WALError?
    /// The next segment file, prepared ahead of need (with `options.preallocate`).
    var preparer: SegmentPreparer?

    private init(directory: String, options: WALOptions, lock: any WALDirectoryLock, metadata: [UInt8],
                 segments: [Segment], fd: Int32, writeOffset: Int, headerEnd: Int, lastIndex: UInt64,
                 hardState: WALHardState?, mark: WALSnapshotMark?, markSegment: UInt64?) {
        self.directory = directory
        self.options = options
        self.fs = options.fileSystem
        self.direct = options.fileSystem is PosixFileSystem
        self.lock = lock
        self.metadata = metadata
        self.segments = segments
        self.fd = fd
        self.activePath = FileIO.join(directory, segments.last!.name.fileName)
        self.writeOffset = writeOffset
        self.syncedOffset = writeOffset
        self.headerEnd = headerEnd
        self.lastIndex = lastIndex
        self.hardState = hardState
        self.mark = mark
        self.markSegment = markSegment
        encoder.bytes.reserveCapacity(min(options.maxBufferSize, 1 << 20))
    }

    deinit {
        preparer?.close()
        if fd >= 0 { fs.close(fd) }
        lock?.release()
    }

    /// Starts preparing spare segments (after create or open).
    func startPreparing() {
        guard options.preallocate else { return }
        preparer = SegmentPreparer(directory: directory, segmentSize: options.segmentSize, fs: fs, background: direct)
    }

    // MARK: create / open

    /// True if `directory` holds WAL segments.
    public static func exists(directory: String, fileSystem: any WALFileSystem = WALFileSystems.processDefault) -> Bool {
        ((try? fileSystem.listDirectory(directory)) ?? []).contains { SegmentName(fileName: $0) != nil }
    }

    /// Starts a new, empty WAL in `directory` (created if missing).
    public static func create(directory: String, metadata: [UInt8], options: WALOptions = WALOptions()) throws -> WAL {
        options.validate()
        guard metadata.count <= options.maxRecordSize else {
            throw WALError.recordTooLarge(size: metadata.count, limit: options.maxRecordSize)
        }
        let fs = options.fileSystem
        try fs.makeDurableDirectory(directory)
        let lock = try fs.lockDirectory(directory, name: "wal.lock")
        if exists(directory: directory, fileSystem: fs) { throw WALError.alreadyExists(directory: directory) }
        try removeTempFiles(directory, fs)
        let name = SegmentName(seq: 0, firstIndex: 1)
        let (fd, end) = try createSegment(directory: directory, name: name, metadata: metadata,
                                          hardState: nil, mark: nil, options: options, fs: fs)
        let wal = WAL(directory: directory, options: options, lock: lock, metadata: metadata,
                      segments: [Segment(name: name, maxEntryIndex: 0)], fd: fd, writeOffset: end, headerEnd: end,
                      lastIndex: 0, hardState: nil, mark: nil, markSegment: nil)
        wal.stats.segmentsCreated = 1
        wal.startPreparing()
        return wal
    }

    /// Opens an existing WAL: locks it, replays every segment, cuts an unsynced torn tail off
    /// the last segment, and positions for appending. Throws `.corrupt` on damaged synced data.
    public static func open(directory: String, options: WALOptions = WALOptions()) throws -> (WAL, WALReplay) {
        options.validate()
        let fs = options.fileSystem
        let lock = try fs.lockDirectory(directory, name: "wal.lock")
        try removeTempFiles(directory, fs)
        let names = try fs.listDirectory(directory).compactMap(SegmentName.init(fileName:)).sorted()
        guard let firstName = names.first else { throw WALError.notFound(directory: directory) }
        for (i, n) in names.enumerated() where n.seq != firstName.seq + UInt64(i) {
            throw WALError.corrupt(file: FileIO.join(directory, n.fileName), offset: 0,
                                   reason: "segment seq \(firstName.seq + UInt64(i)) is missing")
        }

        // Start-up reads from the last snapshot on: the newest segment's header carries the snapshot mark
        // as of its creation, and a segment whose successor starts at or below that mark + 1 holds only
        // entries the snapshot covers (its hard state and mark are repeated in later headers), so it
        // is not read at all. Released segments are gone already; this skips the ones --max-wals keeps.
        // Only a prefix is skipped: once one segment is read, every later one is too, since a later
        // segment may truncate entries an earlier one holds (a Raft overwrite that reaches back past
        // the newer segment's first index; PowerLossTests seed 2680 resurrected overwritten entries).
        let lastPath = FileIO.join(directory, names.last!.fileName)
        let headerMark = SegmentScanner.headerMark(prefix: try fs.readPrefix(lastPath, limit: 64 << 10),
                                                   maxRecordSize: options.maxRecordSize)
        var builder = ReplayBuilder()
        var segments: [Segment] = []
        var tail: SegmentScanResult?
        var repair: WALRepair?
        var reading = false
        for (i, name) in names.enumerated() {
            if !reading, let headerMark, i < names.count - 1, names[i + 1].firstIndex - 1 <= headerMark.index {
                segments.append(Segment(name: name, maxEntryIndex: names[i + 1].firstIndex - 1))
                continue
            }
            reading = true
            let path = FileIO.join(directory, name.fileName)
            let bytes = try fs.readAll(path)
            let isLast = i == names.count - 1
            let r = try SegmentScanner.scan(bytes: bytes, path: path, expectedSeq: name.seq, isLast: isLast,
                                            maxRecordSize: options.maxRecordSize, into: &builder)
            segments.append(Segment(name: name, maxEntryIndex: r.maxEntryIndex))
            if isLast {
                tail = r
                if let reason = r.tornReason {
                    repair = WALRepair(file: path, offset: r.validEnd, droppedBytes: bytes.count - r.validEnd,
                                       reason: reason)
                }
            }
        }
        let replay = try builder.finish(repair: repair)
        let end = tail!.validEnd
        let activePath = FileIO.join(directory, names.last!.fileName)
        let fd = try fs.open(activePath, O_WRONLY)
        do {
            // Cuts a torn tail (preallocation below gives the space back, zeroed); zeros after the
            // records are preallocated space and stay.
            if tail!.tornReason != nil { try fs.truncate(fd, to: end, path: activePath) }
            // What we replayed may have come from the page cache of a killed process: make it
            // durable before new records claim (through syncedUpTo) that it is.
            try fs.fsync(fd, path: activePath)
            if options.preallocate { fs.preallocate(fd, length: options.segmentSize) }
        } catch {
            fs.close(fd)
            throw error
        }
        let wal = WAL(directory: directory, options: options, lock: lock, metadata: replay.metadata,
                      segments: segments, fd: fd, writeOffset: end, headerEnd: tail!.headerEnd,
                      lastIndex: builder.lastIndex, hardState: replay.hardState, mark: replay.snapshot,
                      markSegment: builder.markSegment)
        wal.startPreparing()
        return (wal, replay)
    }
}
