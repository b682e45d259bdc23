import Testing
@testable import WAL

@Suite struct WALRoundTripTests {
    let meta: [UInt8] = Array("node=1 cluster=42".utf8)

    @Test func emptyWALReopens() throws {
        try withTempDirectory { dir in
            try WAL.create(directory: dir, metadata: meta).close()
            let (wal, replay) = try WAL.open(directory: dir)
            #expect(replay.metadata == meta)
            #expect(replay.hardState == nil)
            #expect(replay.snapshot == nil)
            #expect(replay.entries.isEmpty)
            #expect(replay.repair == nil)
            #expect(wal.lastIndex == 0)
            try wal.close()
        }
    }

    @Test func entriesHardStateMarkAndMetadataSurviveReopen() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
            try wal.save(entries: makeEntries(1...10), hardState: WALHardState(term: 1, vote: 2, commit: 5))
            try wal.saveSnapshotMark(WALSnapshotMark(index: 3, term: 1))
            try wal.save(entries: makeEntries(11...12, term: 2), hardState: WALHardState(term: 2, vote: 3, commit: 11))
            try wal.close()

            let (reopened, replay) = try WAL.open(directory: dir)
            #expect(replay.metadata == meta)
            #expect(replay.hardState == WALHardState(term: 2, vote: 3, commit: 11))
            #expect(replay.snapshot == WALSnapshotMark(index: 3, term: 1))
            #expect(replay.entries == makeEntries(4...10) + makeEntries(11...12, term: 2))
            #expect(reopened.lastIndex == 12)

            // Appending continues where the log ended.
            try reopened.save(entries: [makeEntry(13, term: 2)], hardState: nil)
            try reopened.close()
            let (again, replay2) = try WAL.open(directory: dir)
            #expect(replay2.entries.last == makeEntry(13, term: 2))
            #expect(replay2.entries.count == 10)
            try again.close()
        }
    }

    @Test func oneSaveIsOneWriteAndOneSync() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
            let before = wal.stats
            try wal.save(entries: makeEntries(1...64), hardState: WALHardState(term: 1, vote: 1, commit: 0))
            #expect(wal.stats.writeCalls - before.writeCalls == 1)
            #expect(wal.stats.syncCalls - before.syncCalls == 1)
            // A sync with nothing new costs nothing.
            try wal.sync()
            #expect(wal.stats.syncCalls - before.syncCalls == 1)
            try wal.close()
        }
    }

    @Test func bufferLimitSplitsWritesButKeepsOneSync() throws {
        try withTempDirectory { dir in
            let options = WALOptions(maxBufferSize: 4096)
            let wal = try WAL.create(directory: dir, metadata: meta, options: options)
            let before = wal.stats
            try wal.save(entries: makeEntries(1...200), hardState: nil)
            #expect(wal.stats.writeCalls - before.writeCalls > 1)
            #expect(wal.stats.syncCalls - before.syncCalls == 1)
            try wal.close()
            let (reopened, replay) = try WAL.open(directory: dir, options: options)
            #expect(replay.entries == makeEntries(1...200))
            try reopened.close()
        }
    }

    @Test func overwriteTruncatesTheTailOnReplay() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
            try wal.save(entries: makeEntries(1...10), hardState: nil)
            // A new leader (term 2) overwrites the uncommitted tail from index 6.
            try wal.save(entries: makeEntries(6...8, term: 2), hardState: nil)
            // And another (term 3) from index 8 again.
            try wal.save(entries: makeEntries(8...9, term: 3), hardState: nil)
            #expect(wal.lastIndex == 9)
            try wal.close()
            let (reopened, replay) = try WAL.open(directory: dir)
            #expect(replay.entries == makeEntries(1...5) + makeEntries(6...7, term: 2) + makeEntries(8...9, term: 3))
            try reopened.close()
        }
    }

    @Test func appendRejectsGapsDisorderBelowMarkAndOversizedRecords() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: WALOptions(maxRecordSize: 1024))
            try wal.save(entries: makeEntries(1...5), hardState: nil)
            guard case .invalidAppend = expectWALError({ try wal.append(entries: [makeEntry(7)], hardState: nil) }) else {
                Issue.record("gap accepted"); return
            }
            guard case .invalidAppend = expectWALError({
                try wal.append(entries: [makeEntry(6), makeEntry(8)], hardState: nil)
            }) else { Issue.record("non-consecutive batch accepted"); return }
            guard case .recordTooLarge = expectWALError({
                try wal.append(entries: [makeEntry(6, size: 2000)], hardState: nil)
            }) else { Issue.record("oversized record accepted"); return }
            try wal.saveSnapshotMark(WALSnapshotMark(index: 4, term: 1))
            guard case .invalidAppend = expectWALError({ try wal.append(entries: [makeEntry(4)], hardState: nil) }) else {
                Issue.record("entry below mark accepted"); return
            }
            // Rejected batches left nothing behind.
            try wal.close()
            let (reopened, replay) = try WAL.open(directory: dir, options: WALOptions(maxRecordSize: 1024))
            #expect(replay.entries == [makeEntry(5)])
            try reopened.close()
        }
    }

    @Test func snapshotMarkBeyondTheLogRestartsIndexing() throws {
        try withTempDirectory { dir in
            // A follower installs a snapshot at 50 while its log only reached 10.
            let wal = try WAL.create(directory: dir, metadata: meta)
            try wal.save(entries: makeEntries(1...10), hardState: nil)
            try wal.saveSnapshotMark(WALSnapshotMark(index: 50, term: 3))
            try wal.save(entries: makeEntries(51...52, term: 3), hardState: nil)
            try wal.close()
            let (reopened, replay) = try WAL.open(directory: dir)
            #expect(replay.snapshot == WALSnapshotMark(index: 50, term: 3))
            #expect(replay.entries == makeEntries(51...52, term: 3))
            try reopened.close()
        }
    }

    @Test func useAfterCloseFails() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
            try wal.close()
            #expect(expectWALError({ try wal.save(entries: [makeEntry(1)], hardState: nil) }) == .closed)
        }
    }
}
