import Foundation
import Testing

/// Starting from etcd's flags or `ETCD_*` variables, and refusing bad configurations cleanly.
@Suite struct StartupTests {
    private func putAndGet(_ server: ServerProcess) throws {
        let etcdctl = Etcdctl(server)
        try etcdctl.succeed(["put", "started", "yes"])
        #expect(try etcdctl.succeed(["get", "started", "--print-value-only"]) == "yes\n")
    }

    @Test func startsFromFlags() throws {
        let scratch = try ScratchDirectory(label: "flags")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        try putAndGet(server)
        #expect(FileManager.default.fileExists(atPath: server.dataDir))
    }

    /// The server gives jemalloc its options (keel_jemalloc_config.c): freed pages are purged by
    /// jemalloc's background threads, so a server gone quiet after a burst hands its memory back.
    @Test(.enabled(if: ServerKind.subject == .keel)) func allocatorPurgesInTheBackground() throws {
        let scratch = try ScratchDirectory(label: "jemalloc")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        try putAndGet(server)
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task")
        let names = tasks.compactMap { try? String(contentsOfFile: "/proc/\(server.pid)/task/\($0)/comm", encoding: .utf8) }
        #expect(names.contains { $0.hasPrefix("jemalloc_bg_thd") }, "threads: \(names.sorted())")
    }

    @Test func startsFromEnvironment() throws {
        let scratch = try ScratchDirectory(label: "env")
        let ports = try ServerPorts.pick()
        let dataDir = scratch.child("from-env")
        let client = "http://127.0.0.1:\(ports.client)"
        let peer = "http://127.0.0.1:\(ports.peer)"
        let environment = CommandRunner.cleanEnvironment(adding: [
            "ETCD_NAME": "envnode", "ETCD_DATA_DIR": dataDir,
            "ETCD_LISTEN_CLIENT_URLS": client, "ETCD_ADVERTISE_CLIENT_URLS": client,
            "ETCD_LISTEN_PEER_URLS": peer, "ETCD_INITIAL_ADVERTISE_PEER_URLS": peer,
            "ETCD_INITIAL_CLUSTER": "envnode=\(peer)",
        ])
        let server = try ServerProcess(
            kind: ServerKind.subject, ports: ports, dataDir: dataDir, arguments: [], environment: environment)
        try putAndGet(server)
        #expect(FileManager.default.fileExists(atPath: dataDir), "ETCD_DATA_DIR was not used")
        let members = try Etcdctl(server).succeed(["member", "list"])
        #expect(members.contains("envnode"), "ETCD_NAME not used: \(members)")
    }

    /// Runs the subject with bad `arguments` (plus a data dir) and returns the result; the data
    /// dir must not exist afterwards: a refused configuration leaves nothing behind.
    private func refused(_ arguments: [String], label: String) throws -> CommandResult {
        let scratch = try ScratchDirectory(label: label)
        let dataDir = scratch.child("data")
        let ports = try ServerPorts.pick()
        let result = try CommandRunner.run(
            try ServerBinaries.path(for: ServerKind.subject),
            ServerProcess.standardFlags(dataDir: dataDir, ports: ports) + arguments,
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 10)
        #expect(result.exitCode != 0 && result.exitCode != nil, "\(arguments) was accepted: \(result)")
        #expect(!result.stderr.isEmpty, "\(arguments): nothing on stderr")
        #expect(!FileManager.default.fileExists(atPath: dataDir), "\(arguments) created the data dir")
        return result
    }

    @Test func unknownFlagExitsWithUsageError() throws {
        let result = try refused(["--no-such-flag"], label: "unknown")
        #expect(result.status == .exited(2), "\(result)")
        #expect(result.stderr.contains("no-such-flag"), "\(result.stderr)")
    }

    @Test func badURLIsRefused() throws {
        let result = try refused(["--listen-client-urls", "not a url"], label: "badurl")
        #expect(result.stderr.lowercased().contains("url"), "\(result.stderr)")
    }

    /// An unknown --cipher-suites name stops the start with etcd's text, before the data dir exists.
    @Test func unknownCipherSuiteIsRefused() throws {
        let result = try refused(["--cipher-suites", "TLS_NO_SUCH_SUITE"], label: "tls")
        #expect(result.stderr.contains("unexpected TLS cipher suite \"TLS_NO_SUCH_SUITE\""), "\(result.stderr)")
    }

    /// https without a certificate: etcd's text, and nothing on disk.
    @Test func httpsClientURLWithoutCertificatesIsRefused() throws {
        let ports = try ServerPorts.pick()
        let url = "https://127.0.0.1:\(ports.client)"
        let result = try refused(["--listen-client-urls", url, "--advertise-client-urls", url], label: "https")
        #expect(result.stderr.contains("TLS key/cert (--cert-file, --key-file) must be provided for client url \(url) with HTTPS scheme"),
                "\(result.stderr)")
    }
}
