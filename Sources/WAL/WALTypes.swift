// Value types the WAL persists and hands back. The server maps Raft's own types onto these,
// so the WAL stays independent of the Raft module.

/// One Raft log entry as the WAL stores it. `kind` is the caller's entry type tag.
public struct WALEntry: Sendable, Equatable {
    public var term: UInt64
    public var index: UInt64
    public var kind: UInt8
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: UInt8 = 0, data: [UInt8]) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }
}

/// Raft's persistent state besides the log.
public struct WALHardState: Sendable, Equatable {
    public var term: UInt64
    public var vote: UInt64
    public var commit: UInt64

    public init(term: UInt64, vote: UInt64, commit: UInt64) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// "A snapshot at (index, term) exists; entries up to `index` may be dropped."
public struct WALSnapshotMark: Sendable, Equatable {
    public var index: UInt64
    public var term: UInt64

    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }
}

/// What `WAL.open` found on disk.
public struct WALReplay: Sendable, Equatable {
    /// The bytes given to `WAL.create` (e.g. node and cluster ids).
    public var metadata: [UInt8]
    /// The latest hard state written, nil if none was ever saved.
    public var hardState: WALHardState?
    /// The highest snapshot mark written, nil if none.
    public var snapshot: WALSnapshotMark?
    /// Entries after the snapshot mark, contiguous, in index order, overwrites applied.
    public var entries: [WALEntry]
    /// Set when open cut an unacknowledged torn tail off the last segment.
    public var repair: WALRepair?
}

/// A torn tail that `open` truncated. Those bytes were never covered by a completed sync.
public struct WALRepair: Sendable, Equatable {
    public var file: String
    /// Offset in `file` where the valid data ends (the file now ends here).
    public var offset: Int
    /// How many bytes were cut.
    public var droppedBytes: Int
    public var reason: String
}

/// Tunables, with explicit limits. Defaults suit production; tests shrink `segmentSize`.
public struct WALOptions: Sendable {
    /// Soft bound on a segment file: a new segment starts when the next record would cross it
    /// (a single record larger than this still gets a segment of its own).
    public var segmentSize: Int = 64 << 20
    /// Largest record payload accepted on append and on read.
    public var maxRecordSize: Int = 64 << 20
    /// Largest in-memory buffer; past it, records are written out (not synced) before more are added.
    public var maxBufferSize: Int = 16 << 20
    /// Reserve each segment's blocks up front with fallocate, extending the file to `segmentSize`
    /// (the unwritten rest reads as zeros, the end of the records).
    public var preallocate: Bool = true
    /// The file layer; fixed when the WAL is opened.
    public var fileSystem: any WALFileSystem = WALFileSystems.processDefault

    public init(segmentSize: Int = 64 << 20, maxRecordSize: Int = 64 << 20,
                maxBufferSize: Int = 16 << 20, preallocate: Bool = true,
                fileSystem: any WALFileSystem = WALFileSystems.processDefault) {
        self.segmentSize = segmentSize
        self.maxRecordSize = maxRecordSize
        self.maxBufferSize = maxBufferSize
        self.preallocate = preallocate
        self.fileSystem = fileSystem
    }

    /// Record headers store file offsets as UInt32, so every offset must stay below 4 GiB.
    func validate() {
        precondition(segmentSize >= 1024 && segmentSize <= 1 << 30, "segmentSize out of range")
        precondition(maxRecordSize >= 64 && maxRecordSize <= 1 << 30, "maxRecordSize out of range")
        precondition(maxBufferSize >= 4096 && maxBufferSize <= 1 << 30, "maxBufferSize out of range")
    }
}

/// Syscall counters, so callers (and tests) can see what group commit cost.
public struct WALStats: Sendable, Equatable {
    public var writeCalls = 0
    public var syncCalls = 0
    public var bytesWritten = 0
    public var segmentsCreated = 0
    /// Rotations that took a spare segment prepared ahead of need.
    public var segmentsFromSpares = 0
    public init() {}
}
