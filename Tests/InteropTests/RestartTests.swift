#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Data survives a clean stop and a `kill -9`, with the same revisions.
@Suite struct RestartTests {
    /// How a clean SIGTERM stop must end: keel exits 0; etcd 3.4 re-raises SIGTERM after its
    /// cleanup (pkg/osutil/interrupt_unix.go), which is only accepted when etcd is the subject.
    private var cleanStop: ExitStatus { ServerKind.subject == .keel ? .exited(0) : .signaled(SIGTERM) }

    private func writeKeys(_ server: ServerProcess) throws -> String {
        let etcdctl = Etcdctl(server)
        for index in 0..<5 { try etcdctl.succeed(["put", "key\(index)", "value\(index)"]) }
        try etcdctl.succeed(["put", "key1", "rewritten"])
        try etcdctl.succeed(["del", "key3"])
        return try etcdctl.succeed(["get", "", "--from-key"], json: true)
    }

    private func expectSameData(before: String, after server: ServerProcess) throws {
        let after = try Etcdctl(server).succeed(["get", "", "--from-key"], json: true)
        // raft_term may grow across restarts (a new election); everything else must be identical.
        let differences = JSONComparison.differences(
            expected: try JSONComparison.parse(before), actual: try JSONComparison.parse(after),
            ignoring: ["raft_term"])
        #expect(differences.isEmpty, "after restart:\n  \(differences.joined(separator: "\n  "))\n\(server.log)")
    }

    @Test func cleanStopAndRestartKeepsData() throws {
        let scratch = try ScratchDirectory(label: "restart")
        let first = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        let before = try writeKeys(first)
        #expect(first.stop() == cleanStop, "\(first.log)")

        let second = try ServerProcess.start(ServerKind.subject, dataDir: first.dataDir, ports: first.ports)
        try expectSameData(before: before, after: second)
        try Etcdctl(second).succeed(["put", "after", "restart"])
        let header = try Etcdctl(second).succeed(["get", "after"], json: true)
        #expect(header.contains("\"revision\":9"), "revision after restart: \(header)")
    }

    @Test func killNineKeepsAcknowledgedWrites() throws {
        let scratch = try ScratchDirectory(label: "crash")
        let first = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        let before = try writeKeys(first)
        #expect(first.kill9() == .signaled(SIGKILL))

        let second = try ServerProcess.start(ServerKind.subject, dataDir: first.dataDir, ports: first.ports)
        try expectSameData(before: before, after: second)
    }
}
