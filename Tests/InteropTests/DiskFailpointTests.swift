import Foundation
import Testing

// Disk errors under the real binary, through KEEL_FAILPOINTS (Sources/WAL/Failpoints.swift): a failing
// fsync or a full disk stops the member (exit status 1 with a critical log, never a trap or a signal)
// without losing what it acknowledged; a slow fsync delays acknowledgements, never skips them; short
// writes lose nothing. Keel-only: etcd has no such variable.
@Suite(.serialized, .enabled(if: ServerKind.subject == .keel, "KEEL_FAILPOINTS is Keel's"))
struct DiskFailpointTests {
    static func start(_ scratch: ScratchDirectory, failpoints: String?) throws -> ServerProcess {
        let ports = try ServerPorts.pick()
        let dataDir = scratch.child("data")
        var env = CommandRunner.cleanEnvironment()
        if let failpoints { env["KEEL_FAILPOINTS"] = failpoints }
        return try ServerProcess(kind: .keel, ports: ports, dataDir: dataDir,
                                 arguments: ServerProcess.standardFlags(dataDir: dataDir, ports: ports), environment: env)
    }

    /// The failing sync or write: the Put is not acknowledged, the member exits 1, a restart keeps
    /// every acknowledged key.
    func expectStopWithoutLoss(failpoint: String, logged: String) throws {
        let scratch = try ScratchDirectory(label: "failpoint")
        let trigger = scratch.child("trigger")
        let server = try Self.start(scratch, failpoints: "\(failpoint)=\(trigger)")
        let ctl = Etcdctl(server)
        for i in 0..<5 { try ctl.succeed(["put", "acked\(i)", "v\(i)"]) }
        FileManager.default.createFile(atPath: trigger, contents: nil)
        let put = try ctl.run(["put", "after-failure", "x"])
        #expect(put.exitCode != 0, "a Put was acknowledged after the disk failed:\n\(put)")
        let status = server.waitForExit(timeoutSeconds: 15)
        #expect(status == .exited(1), "the member did not stop (status \(String(describing: status)))\n--- log ---\n\(server.log)")
        #expect(server.log.contains("failed to write to the WAL"), "\(server.log)")
        #expect(server.log.contains(logged), "\(server.log)")
        server.kill9()

        try FileManager.default.removeItem(atPath: trigger)
        let restarted = try Self.start(scratch, failpoints: nil)
        defer { restarted.stop() }
        let out = try Etcdctl(restarted).succeed(["get", "acked", "--prefix", "--print-value-only"])
        #expect(out.split(separator: "\n") == ["v0", "v1", "v2", "v3", "v4"])
        // The restarted member writes again.
        try Etcdctl(restarted).succeed(["put", "after-restart", "y"])
    }

    @Test func failingFsyncStopsTheMember() throws {
        try expectStopWithoutLoss(failpoint: "fsync-eio-when", logged: "errno 5")
    }

    @Test func fullDiskStopsTheMemberWithoutACrash() throws {
        try expectStopWithoutLoss(failpoint: "write-enospc-when", logged: "errno 28")
    }

    @Test func slowFsyncDelaysEveryAcknowledgement() throws {
        let scratch = try ScratchDirectory(label: "failpoint-slow")
        let server = try Self.start(scratch, failpoints: "fsync-sleep-ms=250")
        defer { server.stop() }
        #expect(server.log.contains("disk failpoints are active"))
        let ctl = Etcdctl(server)
        for i in 0..<3 {
            let started = ContinuousClock.now
            try ctl.succeed(["put", "slow\(i)", "v"])
            // The acknowledgement waits for the (slowed) fsync of its entry.
            #expect(ContinuousClock.now - started >= .milliseconds(250))
        }
        #expect(try ctl.succeed(["get", "slow2", "--print-value-only"]) == "v\n")
    }

    @Test func shortWritesLoseNothing() async throws {
        let scratch = try ScratchDirectory(label: "failpoint-short")
        let server = try Self.start(scratch, failpoints: "short-writes")
        let client = try await DurabilityClient.connect(server)
        var written: [[UInt8]: [UInt8]] = [:]
        for i in 0..<200 {
            let key = Array("short/\(1000 + i)".utf8)
            let value = (0..<(i * 37 % 5000)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            _ = try await client.put(key, value)
            written[key] = value
        }
        await client.close()
        server.kill9()
        let restarted = try Self.start(scratch, failpoints: nil)
        defer { restarted.stop() }
        let reader = try await DurabilityClient.connect(restarted)
        let stored = try await reader.range(from: Array("short/".utf8), to: Array("short0".utf8))
        await reader.close()
        #expect(stored.count == written.count)
        for (k, v) in written { #expect(stored[k]?.value == v) }
    }

    @Test func unreadableFailpointsStopTheBinary() throws {
        let scratch = try ScratchDirectory(label: "failpoint-bad")
        let ports = try ServerPorts.pick()
        let dataDir = scratch.child("data")
        var env = CommandRunner.cleanEnvironment()
        env["KEEL_FAILPOINTS"] = "fsync-sleep-ms=forever"
        let server = try ServerProcess(kind: .keel, ports: ports, dataDir: dataDir,
                                       arguments: ServerProcess.standardFlags(dataDir: dataDir, ports: ports),
                                       environment: env, waitUntilReady: false)
        #expect(server.waitForExit(timeoutSeconds: 10) == .exited(1))
        #expect(server.log.contains("KEEL_FAILPOINTS: cannot read 'fsync-sleep-ms=forever'"))
    }
}
