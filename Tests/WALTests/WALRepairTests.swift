import Foundation
import Testing
@testable import WAL

/// Torn tails (never acknowledged: cut silently) versus damage to synced data (refuse to open).
/// Segments here are not preallocated, so a file's size is where its records end; preallocated
/// segments are `preallocatedSegments…` below.
@Suite struct WALRepairTests {
    let meta: [UInt8] = [9]
    let grown = WALOptions(preallocate: false)

    /// Five single-entry saves, then a sixth; returns (segment path, bytes before the sixth save, full bytes).
    func buildLog(_ dir: String, lastBatch: [WALEntry] = [makeEntry(6)]) throws -> (String, Int, [UInt8]) {
        let wal = try WAL.create(directory: dir, metadata: meta, options: grown)
        for i in UInt64(1)...5 {
            try wal.save(entries: [makeEntry(i)], hardState: WALHardState(term: 1, vote: 1, commit: i))
        }
        let path = try segmentPaths(dir)[0]
        let before = try fileSize(path)
        try wal.save(entries: lastBatch, hardState: nil)
        try wal.close()
        return (path, before, try readBytes(path))
    }

    @Test func tornTailAtEveryLengthOfTheLastRecord() throws {
        try withTempDirectory { dir in
            let (path, before, full) = try buildLog(dir)
            #expect(full.count > before)
            for cut in before..<full.count {
                try writeBytes(path, Array(full[..<cut]))
                let (wal, replay) = try WAL.open(directory: dir, options: grown)
                #expect(replay.entries == makeEntries(1...5), "cut at \(cut)")
                #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 5))
                #expect((replay.repair != nil) == (cut > before), "cut at \(cut)")
                #expect(try fileSize(path) == before)
                // Still appendable, and the new record survives the next open.
                let replacement = makeEntry(6, term: 2, salt: 7)
                try wal.save(entries: [replacement], hardState: nil)
                try wal.close()
                let (again, replay2) = try WAL.open(directory: dir, options: grown)
                #expect(replay2.entries == makeEntries(1...5) + [replacement], "cut at \(cut)")
                #expect(replay2.repair == nil)
                try again.close()
            }
        }
    }

    @Test func flippedByteInTheLastRecordIsATornTail() throws {
        try withTempDirectory { dir in
            let (path, before, full) = try buildLog(dir)
            for offset in stride(from: before, to: full.count, by: 7) {
                var bytes = full
                bytes[offset] ^= 0x40
                try writeBytes(path, bytes)
                let (wal, replay) = try WAL.open(directory: dir, options: grown)
                #expect(replay.entries == makeEntries(1...5), "flip at \(offset)")
                #expect(replay.repair?.offset == before)
                try wal.close()
            }
        }
    }

    @Test func zerosAfterTheRecordsAreKeptAsSpaceToAppendTo() throws {
        try withTempDirectory { dir in
            let (path, _, full) = try buildLog(dir)
            try writeBytes(path, full + [UInt8](repeating: 0, count: 8192))
            let (wal, replay) = try WAL.open(directory: dir, options: grown)
            #expect(replay.entries == makeEntries(1...6))
            #expect(replay.repair == nil, "zeros are unwritten space (a preallocated segment's), not damage")
            #expect(try fileSize(path) == full.count + 8192)
            try wal.save(entries: [makeEntry(7)], hardState: nil)
            try wal.close()
            let (again, replay2) = try WAL.open(directory: dir, options: grown)
            #expect(replay2.entries == makeEntries(1...7))
            try again.close()
        }
    }

    @Test func unpersistedSectorInsideTheLastBatchIsATornTail() throws {
        try withTempDirectory { dir in
            // The last batch holds three records; its middle one never reached the disk while
            // the third did. Nothing of that batch was acknowledged, so this is a torn tail.
            let (path, before, full) = try buildLog(dir, lastBatch: makeEntries(6...8))
            let recordSize = (full.count - before) / 3
            var bytes = full
            for i in (before + recordSize)..<(before + 2 * recordSize) { bytes[i] = 0 }
            try writeBytes(path, bytes)
            let (wal, replay) = try WAL.open(directory: dir, options: grown)
            #expect(replay.entries == makeEntries(1...6))
            #expect(replay.repair?.offset == before + recordSize)
            try wal.close()
        }
    }

    @Test func flippedByteInASyncedMiddleRecordIsCorruption() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: grown)
            var offsets: [Int] = []
            let path = try segmentPaths(dir)[0]
            for i in UInt64(1)...5 {
                offsets.append(try fileSize(path))
                try wal.save(entries: [makeEntry(i)], hardState: nil)
            }
            try wal.close()
            let full = try readBytes(path)
            for (field, delta) in [("payload", 40), ("length", 1), ("type", 8)] {
                var bytes = full
                bytes[offsets[2] + delta] ^= 0x01
                try writeBytes(path, bytes)
                let error = expectWALError { _ = try WAL.open(directory: dir, options: grown) }
                guard case .corrupt(let file, let offset, let reason) = error else {
                    Issue.record("\(field): expected corrupt, got \(String(describing: error))"); continue
                }
                #expect(file == path, "\(field)")
                #expect(offset == offsets[2], "\(field)")
                #expect(!reason.isEmpty)
                #expect(error!.description.contains(path))
                // Open must not have "repaired" anything.
                #expect(try readBytes(path) == bytes, "\(field)")
            }
        }
    }

    @Test func hugeLengthInAMiddleRecordIsCorruption() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: grown)
            let path = try segmentPaths(dir)[0]
            try wal.save(entries: [makeEntry(1)], hardState: nil)
            let second = try fileSize(path)
            for i in UInt64(2)...4 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            var bytes = try readBytes(path)
            bytes[second + 3] = 0x7F  // length now ~2 GiB, over the record limit and the file
            try writeBytes(path, bytes)
            guard case .corrupt(_, let offset, let reason) = expectWALError({ _ = try WAL.open(directory: dir, options: grown) }) else {
                return
            }
            #expect(offset == second)
            #expect(reason.contains("length"))
        }
    }

    @Test func damageInAnEarlierSegmentIsCorruptionEvenAtItsEnd() throws {
        try withTempDirectory { dir in
            let tiny = WALOptions(segmentSize: 4096, preallocate: false)
            let wal = try WAL.create(directory: dir, metadata: meta, options: tiny)
            for i in UInt64(1)...80 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            let first = try segmentPaths(dir)[0]
            var bytes = try readBytes(first)
            bytes[bytes.count - 20] ^= 0xFF  // inside the first segment's last record
            try writeBytes(first, bytes)
            guard case .corrupt(let file, _, _) = expectWALError({ _ = try WAL.open(directory: dir, options: tiny) }) else {
                return
            }
            #expect(file == first)
        }
    }

    // MARK: preallocated segments (the default): extended to their full size, zeros after the records

    let preallocated = WALOptions(segmentSize: 1 << 20)

    /// One past the last non-zero byte, rounded up to the record alignment: where appends went on.
    func writtenEnd(_ bytes: [UInt8]) -> Int {
        var end = bytes.count
        while end > 0 && bytes[end - 1] == 0 { end -= 1 }
        return (end + 7) / 8 * 8
    }

    @Test func preallocatedSegmentsReopenWithoutRepairAndKeepTheirSize() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: preallocated)
            for i in UInt64(1)...5 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            let path = try segmentPaths(dir)[0]
            #expect(try fileSize(path) == 1 << 20, "extended to the segment size at creation")
            let (reopened, replay) = try WAL.open(directory: dir, options: preallocated)
            #expect(replay.entries == makeEntries(1...5))
            #expect(replay.repair == nil, "unwritten preallocated space is not damage")
            try reopened.save(entries: [makeEntry(6)], hardState: nil)
            try reopened.close()
            #expect(try fileSize(path) == 1 << 20)
            let (again, replay2) = try WAL.open(directory: dir, options: preallocated)
            #expect(replay2.entries == makeEntries(1...6), "the append after reopening landed after entry 5")
            #expect(replay2.repair == nil)
            try again.close()
        }
    }

    @Test func tornWriteInsidePreallocatedSpaceIsCutAndTheSpaceZeroedAgain() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta, options: preallocated)
            for i in UInt64(1)...5 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            let path = try segmentPaths(dir)[0]
            var bytes = try readBytes(path)
            let end = writtenEnd(bytes)
            for i in end..<(end + 300) { bytes[i] = 0xAB }  // a partial write that never completed
            try writeBytes(path, bytes)
            let (reopened, replay) = try WAL.open(directory: dir, options: preallocated)
            #expect(replay.entries == makeEntries(1...5))
            #expect(replay.repair?.offset == end)
            #expect(replay.repair?.reason.hasPrefix("torn write") == true)
            #expect(try fileSize(path) == 1 << 20, "preallocated again after the cut")
            #expect(writtenEnd(try readBytes(path)) == end, "the garbage is gone")
            // A short record over the cut leaves no stale bytes behind it to be read as a tail.
            try reopened.save(entries: [makeEntry(6, size: 10)], hardState: nil)
            try reopened.close()
            let (again, replay2) = try WAL.open(directory: dir, options: preallocated)
            #expect(replay2.entries == makeEntries(1...5) + [makeEntry(6, size: 10)])
            #expect(replay2.repair == nil)
            try again.close()
        }
    }

    /// Rotations take the spare segment the preparer made ahead of need, every record survives reopening,
    /// and closing leaves no spare behind.
    @Test func rotationsTakePreparedSparesAndCloseRemovesTheLastOne() throws {
        try withTempDirectory { dir in
            let small = WALOptions(segmentSize: 16 << 10)
            let wal = try WAL.create(directory: dir, metadata: meta, options: small)
            for i in UInt64(1)...400 {
                try wal.save(entries: [makeEntry(i)], hardState: nil)
                wal.preparer?.waitUntilIdle()  // the time between two rotations, made certain
            }
            #expect(wal.stats.segmentsCreated > 3)
            #expect(wal.stats.segmentsFromSpares == wal.stats.segmentsCreated - 1, "every rotation took a spare")
            try wal.close()
            let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            #expect(files.allSatisfy { !$0.hasSuffix(".tmp") }, "no spare left: \(files.sorted())")
            for path in try segmentPaths(dir) { #expect(try fileSize(path) == 16 << 10) }
            let (again, replay) = try WAL.open(directory: dir, options: small)
            #expect(replay.entries == makeEntries(1...400))
            #expect(replay.repair == nil)
            try again.close()
        }
    }
}
