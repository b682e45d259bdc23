import Testing
@testable import WAL

@Suite struct SnapshotFileTests {
    @Test func saveAndLoadNewest() throws {
        try withTempDirectory { dir in
            let snaps = dir + "/snap"
            #expect(try SnapshotFile.loadNewest(directory: snaps).snapshot == nil)
            try SnapshotFile.save(directory: snaps, index: 10, term: 1, data: [1, 2, 3])
            try SnapshotFile.save(directory: snaps, index: 200, term: 2, data: Array(repeating: 7, count: 5000))
            try SnapshotFile.save(directory: snaps, index: 30, term: 1, data: [])
            let result = try SnapshotFile.loadNewest(directory: snaps)
            #expect(result.skipped.isEmpty)
            #expect(result.snapshot?.index == 200)
            #expect(result.snapshot?.term == 2)
            #expect(result.snapshot?.data == Array(repeating: 7, count: 5000))
        }
    }

    @Test func brokenNewestIsSkippedAndReported() throws {
        try withTempDirectory { dir in
            try SnapshotFile.save(directory: dir, index: 10, term: 1, data: [1, 2, 3])
            let flipped = try SnapshotFile.save(directory: dir, index: 20, term: 1, data: Array(repeating: 5, count: 100))
            let short = try SnapshotFile.save(directory: dir, index: 30, term: 1, data: [9, 9])
            var bytes = try readBytes(flipped)
            bytes[60] ^= 0x01
            try writeBytes(flipped, bytes)
            try writeBytes(short, Array(try readBytes(short).prefix(20)))

            let result = try SnapshotFile.loadNewest(directory: dir)
            #expect(result.snapshot?.index == 10)
            #expect(result.snapshot?.data == [1, 2, 3])
            #expect(result.skipped.map(\.path) == [short, flipped])
            #expect(result.skipped[1].reason.contains("CRC"))
        }
    }

    @Test func renamedFileIsRejected() throws {
        try withTempDirectory { dir in
            let path = try SnapshotFile.save(directory: dir, index: 10, term: 1, data: [1])
            let renamed = dir + "/" + SnapshotFile.fileName(index: 11, term: 1)
            try writeBytes(renamed, try readBytes(path))
            let result = try SnapshotFile.loadNewest(directory: dir)
            #expect(result.snapshot?.index == 10)
            #expect(result.skipped.first?.path == renamed)
        }
    }

    @Test func purgeKeepsTheNewest() throws {
        try withTempDirectory { dir in
            for i in UInt64(1)...5 { try SnapshotFile.save(directory: dir, index: i * 10, term: 1, data: [UInt8(i)]) }
            try writeBytes(dir + "/" + SnapshotFile.fileName(index: 60, term: 1) + ".tmp", [0])
            let removed = try SnapshotFile.purge(directory: dir, keep: 2)
            #expect(removed.count == 4)
            #expect(try SnapshotFile.snapshotNames(dir, PosixFileSystem.shared) == [SnapshotFile.fileName(index: 40, term: 1),
                                                             SnapshotFile.fileName(index: 50, term: 1)])
            #expect(try SnapshotFile.loadNewest(directory: dir).snapshot?.data == [5])
        }
    }

    /// A file newer than the WAL's mark (a snapshot whose mark never reached the WAL) must not push
    /// out the file the mark names.
    @Test func purgeUpToTheMarkKeepsTheMarkedFile() throws {
        try withTempDirectory { dir in
            for index in [10, 20, 30] as [UInt64] { try SnapshotFile.save(directory: dir, index: index, term: 1, data: [UInt8(index)]) }
            let removed = try SnapshotFile.purge(directory: dir, keep: 1, markIndex: 20)
            #expect(removed.map { String($0.split(separator: "/").last!) } == [SnapshotFile.fileName(index: 10, term: 1)])
            #expect(try SnapshotFile.load(directory: dir, index: 20, term: 1).data == [20])
        }
    }
}
