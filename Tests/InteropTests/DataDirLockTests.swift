import Testing

/// Two members must never write one data dir: the second refuses before serving, naming the lock.
@Suite struct DataDirLockTests {
    @Test func secondKeelOnTheSameDataDirRefusesToStart() throws {
        let scratch = try ScratchDirectory(label: "lock")
        let dataDir = scratch.child("data")
        let first = try ServerProcess.start(.keel, dataDir: dataDir)
        defer { _ = first.stop() }
        let second = try CommandRunner.run(
            try ServerBinaries.keel(),
            ServerProcess.standardFlags(dataDir: dataDir, ports: try ServerPorts.pick()),
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 20)
        #expect(second.exitCode == 1, "\(second)")
        #expect(second.stderr.contains("wal.lock is locked by another process"), "\(second)")
        #expect(!second.stderr.contains(ServerProcess.readyMarker))
        // The first member is unaffected.
        #expect(try Etcdctl(first).succeed(["put", "still", "here"]).contains("OK"))
    }
}
