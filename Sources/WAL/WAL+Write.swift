import Dispatch
// Appending, group-commit syncing, snapshot marks and closing.
#if canImport(Glibc)
import Glibc
#endif

// One owner drives a WAL (the Raft loop); it has no internal locking, so it must not be shared.
@available(*, unavailable)
extension WAL: Sendable {}

extension WAL {
    /// Buffers entries and an optional hard state. Nothing reaches the disk until `sync()`,
    /// unless the buffer limit or a segment rotation forces an earlier (unsynced) write.
    /// All-or-nothing: the whole batch is validated before anything is buffered.
    public func append(entries: [WALEntry], hardState: WALHardState?) throws {
        try checkUsable()
        let markIndex = mark?.index ?? 0
        if let first = entries.first {
            guard first.index > markIndex else {
                throw WALError.invalidAppend(reason: "entry \(first.index) is at or below snapshot mark \(markIndex)")
            }
            guard first.index <= lastIndex + 1 else {
                throw WALError.invalidAppend(reason: "entry \(first.index) leaves a gap after \(lastIndex)")
            }
        }
        for i in entries.indices {
            let size = RecordFormat.entryFixedSize + entries[i].data.count
            guard size <= options.maxRecordSize else {
                throw WALError.recordTooLarge(size: size, limit: options.maxRecordSize)
            }
            if i > 0 && entries[i].index != entries[i - 1].index + 1 {
                throw WALError.invalidAppend(reason: "entry \(entries[i].index) does not follow \(entries[i - 1].index)")
            }
        }
        try poisoningOnFailure {
            for e in entries {
                try makeRoom(payload: RecordFormat.entryFixedSize + e.data.count)
                encoder.appendEntry(e, syncedUpTo: syncedOffset)
                lastIndex = e.index
                segments[segments.count - 1].maxEntryIndex = max(segments[segments.count - 1].maxEntryIndex, e.index)
            }
            if let hardState {
                try makeRoom(payload: RecordFormat.hardStateSize)
                encoder.appendHardState(hardState, syncedUpTo: syncedOffset)
                self.hardState = hardState
            }
        }
    }

    /// Writes the buffer with one pwrite and makes it durable with one fdatasync.
    public func sync() throws {
        try checkUsable()
        try poisoningOnFailure {
            try flush()
            if writeOffset > syncedOffset {
                let start = onSyncDuration == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                try syncActive()
                if let onSyncDuration { onSyncDuration(DispatchTime.now().uptimeNanoseconds - start) }
                stats.syncCalls += 1
                syncedOffset = writeOffset
            }
        }
    }

    /// `append` then, if asked, `sync`: the one call per Raft Ready batch. Without a sync the records
    /// are still written to the file (one pwrite, no fsync): a process that is killed keeps them in the
    /// page cache, so a restart knows e.g. the newest commit index, though a power loss may drop them.
    public func save(entries: [WALEntry], hardState: WALHardState?, sync: Bool = true) throws {
        try append(entries: entries, hardState: hardState)
        if sync {
            try self.sync()
        } else {
            try poisoningOnFailure { try flush() }
        }
    }

    /// Records that a snapshot at (index, term) exists, and syncs (together with anything buffered).
    public func saveSnapshotMark(_ m: WALSnapshotMark) throws {
        try checkUsable()
        if let mark, m.index < mark.index {
            throw WALError.invalidAppend(reason: "snapshot mark \(m.index) is below the current mark \(mark.index)")
        }
        try poisoningOnFailure {
            try makeRoom(payload: RecordFormat.snapshotMarkSize)
            encoder.appendSnapshotMark(m, syncedUpTo: syncedOffset)
            mark = m
            markSegment = segments.last!.name.seq
            lastIndex = max(lastIndex, m.index)
        }
        try sync()
    }

    /// Deletes the oldest segments whose entries are all <= `index` (capped at the snapshot mark)
    /// and that are older than the segment holding the latest snapshot mark. Every segment starts
    /// with copies of metadata, mark and hard state, so nothing but dead entries goes away.
    /// Returns how many segment files were removed.
    @discardableResult
    public func releaseSegments(upTo index: UInt64) throws -> Int {
        try releaseSegments(upTo: index, keepingAtLeast: 0)
    }

    /// As `releaseSegments(upTo:)`, but leaves at least `keep` segment files (etcd's --max-wals: a
    /// count of files to retain; 0 keeps none beyond what is needed).
    @discardableResult
    public func releaseSegments(upTo index: UInt64, keepingAtLeast keep: Int) throws -> Int {
        try checkUsable()
        guard let mark, let markSegment else { return 0 }
        let limit = min(index, mark.index)
        var removed = 0
        while removed < segments.count - 1 && segments.count - removed > keep {
            let s = segments[removed]
            guard s.name.seq < markSegment, s.maxEntryIndex <= limit else { break }
            try fs.unlink(FileIO.join(directory, s.name.fileName))
            removed += 1
        }
        if removed > 0 {
            segments.removeFirst(removed)
            try fs.fsyncDirectory(directory)
        }
        return removed
    }

    /// Syncs anything buffered, then releases the file and the directory lock.
    public func close() throws {
        preparer?.close()
        preparer = nil
        if unusable != nil { return }
        defer {
            fs.close(fd)
            fd = -1
            lock?.release()
            lock = nil
            unusable = .closed
        }
        try sync()
    }

    /// Names of the segment files currently on disk, oldest first.
    public var segmentFiles: [String] { segments.map { $0.name.fileName } }

    // MARK: internals

    func checkUsable() throws {
        if let unusable { throw unusable }
    }

    /// After a failed write or fdatasync the kernel may have dropped dirty pages: refuse all
    /// further use so no later sync can claim durability for data that is gone.
    func poisoningOnFailure(_ body: () throws -> Void) throws {
        do { try body() } catch {
            unusable = (error as? WALError) ?? .closed
            throw error
        }
    }

    /// Before encoding a record: rotate if it would cross the segment bound, or write the
    /// buffer out if it would pass the buffer limit.
    func makeRoom(payload: Int) throws {
        let size = RecordFormat.paddedSize(payload: payload)
        let end = writeOffset + encoder.count
        if end > headerEnd && end + size > options.segmentSize {
            try rotate()
        } else if encoder.count > 0 && encoder.count + size > options.maxBufferSize {
            try flush()
        }
    }

    /// One pwrite of the whole buffer at the end of the active segment.
    func flush() throws {
        guard encoder.count > 0 else { return }
        assert(writeOffset % RecordFormat.alignment == 0 && syncedOffset <= writeOffset)
        let calls = try encoder.bytes.withUnsafeBytes { bytes in
            direct ? try FileIO.pwriteAll(fd, bytes, at: writeOffset, path: activePath)
                   : try fs.pwriteAll(fd, bytes, at: writeOffset, path: activePath)
        }
        stats.writeCalls += calls
        stats.bytesWritten += encoder.count
        writeOffset += encoder.count
        encoder.reset()
    }

    /// fdatasync of the active segment; straight to the syscall on the POSIX layer.
    func syncActive() throws {
        if direct { try FileIO.fdatasync(fd, path: activePath) } else { try fs.fdatasync(fd, path: activePath) }
    }

    /// Seals the active segment (fully synced, so only the last segment can ever hold an
    /// unsynced tail) and starts the next one.
    func rotate() throws {
        try flush()
        if writeOffset > syncedOffset {
            try syncActive()
            stats.syncCalls += 1
            syncedOffset = writeOffset
        }
        let name = SegmentName(seq: segments.last!.name.seq + 1, firstIndex: lastIndex + 1)
        let (newFD, end): (Int32, Int)
        if let spare = preparer?.take() {
            (newFD, end) = try WAL.install(spare, directory: directory, name: name, metadata: metadata,
                                           hardState: hardState, mark: mark, fs: fs)
            stats.segmentsFromSpares += 1
        } else {
            (newFD, end) = try WAL.createSegment(directory: directory, name: name, metadata: metadata,
                                                 hardState: hardState, mark: mark, options: options, fs: fs)
        }
        defer { preparer?.refill() }
        fs.close(fd)
        fd = newFD
        activePath = FileIO.join(directory, name.fileName)
        segments.append(Segment(name: name, maxEntryIndex: 0))
        writeOffset = end
        syncedOffset = end
        headerEnd = end
        stats.segmentsCreated += 1
        stats.writeCalls += 1
        stats.syncCalls += 2  // the new file and its directory
    }

    /// Makes an opened, unnamed file (a prepared spare, or one `createSegment` just made) the segment
    /// `name`: its header written and synced, then renamed into place and the directory synced, so a
    /// segment file is never seen without its header. On failure the file is closed and removed.
    static func install(_ spare: SegmentPreparer.Spare, directory: String, name: SegmentName, metadata: [UInt8],
                        hardState: WALHardState?, mark: WALSnapshotMark?,
                        fs: any WALFileSystem) throws -> (fd: Int32, end: Int) {
        do {
            var header = RecordEncoder()
            header.appendSegmentInfo(seq: name.seq, firstIndex: name.firstIndex, syncedUpTo: 0)
            header.appendMetadata(metadata, syncedUpTo: 0)
            if let mark { header.appendSnapshotMark(mark, syncedUpTo: 0) }
            if let hardState { header.appendHardState(hardState, syncedUpTo: 0) }
            try header.bytes.withUnsafeBytes { _ = try fs.pwriteAll(spare.fd, $0, at: 0, path: spare.path) }
            try fs.fdatasync(spare.fd, path: spare.path)
            try fs.rename(spare.path, FileIO.join(directory, name.fileName))
            try fs.fsyncDirectory(directory)
            return (spare.fd, header.count)
        } catch {
            fs.close(spare.fd)
            try? fs.unlink(spare.path)
            throw error
        }
    }

    /// Creates the segment `name` under a temporary name (preallocated with `options.preallocate`), then
    /// installs it.
    static func createSegment(directory: String, name: SegmentName, metadata: [UInt8], hardState: WALHardState?,
                              mark: WALSnapshotMark?, options: WALOptions,
                              fs: any WALFileSystem) throws -> (fd: Int32, end: Int) {
        let temp = FileIO.join(directory, name.fileName) + SegmentName.tempSuffix
        let fd = try fs.open(temp, O_WRONLY | O_CREAT | O_TRUNC)
        if options.preallocate { fs.preallocate(fd, length: options.segmentSize) }
        return try install(SegmentPreparer.Spare(fd: fd, path: temp), directory: directory, name: name,
                           metadata: metadata, hardState: hardState, mark: mark, fs: fs)
    }

    /// Leftovers of a crash during segment creation; they never held acknowledged data.
    static func removeTempFiles(_ directory: String, _ fs: any WALFileSystem) throws {
        for n in try fs.listDirectory(directory) where n.hasSuffix(SegmentName.suffix + SegmentName.tempSuffix) {
            try fs.unlink(FileIO.join(directory, n))
        }
    }
}
