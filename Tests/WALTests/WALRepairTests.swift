import Testing
@testable import WAL

/// Torn tails (never acknowledged: cut silently) versus damage to synced data (refuse to open).
@Suite struct WALRepairTests {
    let meta: [UInt8] = [9]

    /// Five single-entry saves, then a sixth; returns (segment path, bytes before the sixth save, full bytes).
    func buildLog(_ dir: String, lastBatch: [WALEntry] = [makeEntry(6)]) throws -> (String, Int, [UInt8]) {
        let wal = try WAL.create(directory: dir, metadata: meta)
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
                let (wal, replay) = try WAL.open(directory: dir)
                #expect(replay.entries == makeEntries(1...5), "cut at \(cut)")
                #expect(replay.hardState == WALHardState(term: 1, vote: 1, commit: 5))
                #expect((replay.repair != nil) == (cut > before), "cut at \(cut)")
                #expect(try fileSize(path) == before)
                // Still appendable, and the new record survives the next open.
                let replacement = makeEntry(6, term: 2, salt: 7)
                try wal.save(entries: [replacement], hardState: nil)
                try wal.close()
                let (again, replay2) = try WAL.open(directory: dir)
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
                let (wal, replay) = try WAL.open(directory: dir)
                #expect(replay.entries == makeEntries(1...5), "flip at \(offset)")
                #expect(replay.repair?.offset == before)
                try wal.close()
            }
        }
    }

    @Test func zeroedPreallocatedSpaceIsTrimmed() throws {
        try withTempDirectory { dir in
            let (path, _, full) = try buildLog(dir)
            try writeBytes(path, full + [UInt8](repeating: 0, count: 8192))
            let (wal, replay) = try WAL.open(directory: dir)
            #expect(replay.entries == makeEntries(1...6))
            #expect(replay.repair?.reason == "zeroed tail")
            #expect(replay.repair?.droppedBytes == 8192)
            #expect(try fileSize(path) == full.count)
            try wal.close()
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
            let (wal, replay) = try WAL.open(directory: dir)
            #expect(replay.entries == makeEntries(1...6))
            #expect(replay.repair?.offset == before + recordSize)
            try wal.close()
        }
    }

    @Test func flippedByteInASyncedMiddleRecordIsCorruption() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: meta)
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
                let error = expectWALError { _ = try WAL.open(directory: dir) }
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
            let wal = try WAL.create(directory: dir, metadata: meta)
            let path = try segmentPaths(dir)[0]
            try wal.save(entries: [makeEntry(1)], hardState: nil)
            let second = try fileSize(path)
            for i in UInt64(2)...4 { try wal.save(entries: [makeEntry(i)], hardState: nil) }
            try wal.close()
            var bytes = try readBytes(path)
            bytes[second + 3] = 0x7F  // length now ~2 GiB, over the record limit and the file
            try writeBytes(path, bytes)
            guard case .corrupt(_, let offset, let reason) = expectWALError({ _ = try WAL.open(directory: dir) }) else {
                return
            }
            #expect(offset == second)
            #expect(reason.contains("length"))
        }
    }

    @Test func damageInAnEarlierSegmentIsCorruptionEvenAtItsEnd() throws {
        try withTempDirectory { dir in
            let tiny = WALOptions(segmentSize: 4096)
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
}
