import Testing
@testable import WAL

@Suite struct WALLockTests {
    @Test func secondOpenIsRefusedWhileTheFirstHoldsTheLock() throws {
        try withTempDirectory { dir in
            let wal = try WAL.create(directory: dir, metadata: [])
            guard case .locked(let path) = expectWALError({ _ = try WAL.open(directory: dir) }) else { return }
            #expect(path.hasSuffix("wal.lock"))
            #expect(WALError.locked(path: path).description.contains("locked"))
            guard case .locked = expectWALError({ _ = try WAL.create(directory: dir, metadata: []) }) else { return }
            try wal.close()

            let (reopened, _) = try WAL.open(directory: dir)
            try reopened.close()
        }
    }

    @Test func createRefusesAnExistingWALAndOpenRefusesAnEmptyDirectory() throws {
        try withTempDirectory { dir in
            guard case .notFound = expectWALError({ _ = try WAL.open(directory: dir) }) else { return }
            try WAL.create(directory: dir, metadata: []).close()
            #expect(WAL.exists(directory: dir))
            guard case .alreadyExists = expectWALError({ _ = try WAL.create(directory: dir, metadata: []) }) else { return }
        }
    }

    @Test func droppingAWALWithoutCloseReleasesTheLock() throws {
        try withTempDirectory { dir in
            do {
                let wal = try WAL.create(directory: dir, metadata: [])
                try wal.save(entries: [makeEntry(1)], hardState: nil)
            }
            let (reopened, replay) = try WAL.open(directory: dir)
            #expect(replay.entries == [makeEntry(1)])
            try reopened.close()
        }
    }
}
