import Testing
@testable import WAL

struct FailpointsTests {
    @Test func parsesEveryFailpoint() throws {
        let f = try Failpoints.parse("fsync-eio-when=/t/a,fsync-sleep-ms=20,short-writes,write-enospc-when=/t/b").get()
        #expect(f.fsyncErrorTrigger == "/t/a" && f.fsyncSleepMilliseconds == 20 && f.shortWrites && f.noSpaceTrigger == "/t/b")
        #expect(try Failpoints.parse("").get() == Failpoints())
    }

    @Test(arguments: ["fsync-sleep-ms=x", "fsync-sleep-ms=-1", "short-writes=1", "fsync-eio-when=", "nope"])
    func refusesWhatItCannotRead(_ text: String) {
        guard case .failure(let e) = Failpoints.parse(text) else { Issue.record("accepted \(text)"); return }
        #expect(e.item == text)
    }

    /// Short writes go through the WAL's write loop: everything still lands, in more calls.
    @Test func shortWritesStillWriteEverything() throws {
        var f = Failpoints()
        f.shortWrites = true
        try withTempDirectory { dir in
            let options = WALOptions(segmentSize: 1 << 20, fileSystem: FailpointFileSystem(f))
            let wal = try WAL.create(directory: dir + "/wal", metadata: [1, 2, 3], options: options)
            try wal.save(entries: makeEntries(1...50, size: 3000), hardState: WALHardState(term: 1, vote: 0, commit: 50))
            #expect(wal.stats.writeCalls > 10)
            try wal.close()
            let (_, replay) = try WAL.open(directory: dir + "/wal")
            #expect(replay.entries == makeEntries(1...50, size: 3000))
        }
    }

    /// fsyncgate: once an fsync failed, the kernel may have dropped the dirty pages, so a later fsync that
    /// succeeds proves nothing. The WAL refuses all further use, even after the disk recovers.
    @Test func aFailedFsyncPoisonsTheWAL() throws {
        try withTempDirectory { dir in
            var f = Failpoints()
            f.fsyncErrorTrigger = dir + "/broken"
            let options = WALOptions(segmentSize: 1 << 20, fileSystem: FailpointFileSystem(f))
            let wal = try WAL.create(directory: dir + "/wal", metadata: [], options: options)
            try wal.save(entries: makeEntries(1...3), hardState: WALHardState(term: 1, vote: 0, commit: 3))
            try writeBytes(dir + "/broken", [])
            let failed = expectWALError { try wal.save(entries: makeEntries(4...4), hardState: nil) }
            guard case .io(let op, _, let code)? = failed else { Issue.record("not an I/O error: \(String(describing: failed))"); return }
            #expect(op == "fdatasync" && code == 5)
            try FileIOForTests.remove(dir + "/broken")
            _ = expectWALError { try wal.save(entries: makeEntries(5...5), hardState: nil) }
            _ = expectWALError { try wal.sync() }
        }
    }
}

