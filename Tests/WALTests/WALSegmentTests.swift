import Testing
@testable import WAL

@Suite struct WALSegmentTests {
    let tiny = WALOptions(segmentSize: 4096)
    let meta: [UInt8] = [1, 2, 3]

    @Test func segmentNamesRoundTrip() {
        let n = SegmentName(seq: 3, firstIndex: 0x1234)
        #expect(n.fileName == "0000000000000003-0000000000001234.wal")
        #expect(SegmentName(fileName: n.fileName) == n)
        #expect(SegmentName(fileName: "junk.wal") == nil)
        #expect(SegmentName(fileName: n.fileName + ".tmp") == nil)
    }

    @Test func rotationWithTinySegmentsKeepsEverything() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for start in stride(from: UInt64(1), through: 196, by: 5) {
                try wal.save(entries: makeEntries(start...(start + 4)), hardState: WALHardState(term: 1, vote: 1, commit: start))
            }
            try wal.close()
            let paths = try segmentPaths(dir)
            #expect(paths.count > 5)
            for path in paths { #expect(try fileSize(path) <= 4096) }
            // Names carry consecutive seqs and increasing first indexes.
            let names = paths.map { SegmentName(fileName: String($0.split(separator: "/").last!))! }
            #expect(names.map(\.seq) == (0..<UInt64(names.count)).map { $0 })
            #expect(names.map(\.firstIndex) == names.map(\.firstIndex).sorted())

            let (reopened, replay) = try WAL.open(directory: dir, options: tiny)
            #expect(replay.entries == makeEntries(1...200))
            #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 196))
            #expect(replay.metadata == meta)
            try reopened.close()
        }
    }

    /// Open reads from the last snapshot on: segments whose entries the newest segment's header mark
    /// covers are not read at all (damage there is not even seen), later ones are; the replay is the same.
    @Test func openSkipsSegmentsTheSnapshotCovers() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for start in stride(from: UInt64(1), through: 146, by: 5) {
                try wal.save(entries: makeEntries(start...(start + 4)), hardState: WALHardState(term: 1, vote: 1, commit: start))
            }
            try wal.saveSnapshotMark(WALSnapshotMark(index: 100, term: 1))
            for start in stride(from: UInt64(151), through: 196, by: 5) {
                try wal.save(entries: makeEntries(start...(start + 4)), hardState: WALHardState(term: 1, vote: 1, commit: start))
            }
            try wal.close()
            let paths = try segmentPaths(dir)
            let names = paths.map { SegmentName(fileName: String($0.split(separator: "/").last!))! }
            // The first segment ends far below the mark: wreck its middle. A read would call it corruption.
            #expect(names[1].firstIndex - 1 <= 100)
            var first = try readBytes(paths[0])
            for i in (first.count / 2)..<(first.count / 2 + 64) { first[i] ^= 0xFF }
            try writeBytes(paths[0], first)

            let (reopened, replay) = try WAL.open(directory: dir, options: tiny)
            #expect(replay.snapshot == WALSnapshotMark(index: 100, term: 1))
            #expect(replay.entries == makeEntries(101...200))
            #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 196))
            // The skipped segments are still dead weight that a release removes.
            #expect(try reopened.releaseSegments(upTo: 100) > 0)
            try reopened.close()

            // Damage in an earlier segment that holds live entries is still read, and still refused.
            let after = try segmentPaths(dir)
            let afterNames = after.map { SegmentName(fileName: String($0.split(separator: "/").last!))! }
            let live = try #require(afterNames.indices.dropLast().first { afterNames[$0 + 1].firstIndex - 1 > 100 })
            var bytes = try readBytes(after[live])
            let middle = bytes.count / 2
            for i in middle..<(middle + 64) { bytes[i] ^= 0xFF }
            try writeBytes(after[live], bytes)
            let error = expectWALError { _ = try WAL.open(directory: dir, options: tiny) }
            if case .corrupt = error {} else { Issue.record("expected corruption, got \(String(describing: error))") }
        }
    }

    @Test func overwriteAcrossASegmentBoundary() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for i in UInt64(1)...60 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.save(entries: makeEntries(10...12, term: 2), hardState: nil)
            try wal.close()
            #expect(try segmentPaths(dir).count > 1)
            let (reopened, replay) = try WAL.open(directory: dir, options: tiny)
            #expect(replay.entries == makeEntries(1...9) + makeEntries(10...12, term: 2))
            try reopened.close()
        }
    }

    @Test func releaseSegmentsDropsOnlyDeadSegments() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for start in stride(from: UInt64(1), through: 146, by: 5) {
                try wal.save(entries: makeEntries(start...(start + 4)), hardState: WALHardState(term: 1, vote: 1, commit: start))
            }
            // Nothing can go before a snapshot mark exists.
            #expect(try wal.releaseSegments(upTo: 100) == 0)
            try wal.saveSnapshotMark(WALSnapshotMark(index: 100, term: 1))
            try wal.save(entries: makeEntries(151...160), hardState: WALHardState(term: 1, vote: 1, commit: 160))
            let before = try segmentPaths(dir)
            let removed = try wal.releaseSegments(upTo: 100)
            #expect(removed > 0)
            let after = try segmentPaths(dir)
            #expect(after.count == before.count - removed)
            #expect(Array(before.suffix(after.count)) == after)
            #expect(wal.segmentFiles.count == after.count)
            // Asking again, or past the mark, removes nothing more that is still needed.
            #expect(try wal.releaseSegments(upTo: 100) == 0)
            #expect(try wal.releaseSegments(upTo: 1000) == 0)
            try wal.close()

            let (reopened, replay) = try WAL.open(directory: dir, options: tiny)
            #expect(replay.metadata == meta)
            #expect(replay.snapshot == WALSnapshotMark(index: 100, term: 1))
            #expect(replay.entries == makeEntries(101...160))
            #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 160))
            try reopened.close()
        }
    }

    @Test func missingMiddleSegmentIsCorruption() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for i in UInt64(1)...100 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            let paths = try segmentPaths(dir)
            #expect(paths.count >= 3)
            try FileIOForTests.remove(paths[1])
            guard case .corrupt(_, _, let reason) = expectWALError({ _ = try WAL.open(directory: dir, options: tiny) }) else {
                return
            }
            #expect(reason.contains("missing"))
        }
    }

    @Test func leftoverTempSegmentIsIgnoredAndRemoved() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
            try wal.save(entries: makeEntries(1...3), hardState: nil)
            try wal.close()
            let temp = dir + "/" + SegmentName(seq: 1, firstIndex: 4).fileName + ".tmp"
            try writeBytes(temp, [1, 2, 3])
            let (reopened, replay) = try WAL.open(directory: dir)
            #expect(replay.entries == makeEntries(1...3))
            #expect(!FileIOForTests.exists(temp))
            try reopened.close()
        }
    }
}
