import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Patroni (Debian's) managing PostgreSQL 15 nodes whose DCS is one etcd-v3 endpoint reached through the JSON
/// gateway, as Patroni only speaks it. PostgreSQL refuses to run as root, so every node runs as `postgres`
/// (setpriv execs in place: the child's pid is Patroni's and SIGKILL reaches it). Each node has its own
/// REST and PostgreSQL ports and data dir; everything is killed and removed when the cluster goes.
final class PatroniCluster {
    static let patroni = "/usr/bin/patroni"
    static let setpriv = "/usr/bin/setpriv"
    static let binDir = "/usr/lib/postgresql/15/bin"
    static let scope = "keeltest"

    struct Node {
        let name: String
        let restPort: Int
        let pgPort: Int
        let dataDir: String
        let process: WatchProcess
    }

    let scratch: ScratchDirectory
    let store: String
    private(set) var nodes: [String: Node] = [:]

    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: patroni) && FileManager.default.isExecutableFile(atPath: binDir + "/postgres")
    }

    init(store: ServerProcess) throws {
        scratch = try ScratchDirectory(label: "patroni")
        self.store = store.endpoint
        try run("/bin/chmod", ["755", scratch.path])
        try run("/bin/chown", ["postgres:postgres", scratch.path])
    }

    /// Fast failure detection: the leader key lives 20 s (Patroni's minimum) and is renewed every 2 s.
    private func config(_ name: String, rest: Int, pg: Int, dataDir: String) -> String {
        """
        scope: \(Self.scope)
        name: \(name)
        restapi:
          listen: 127.0.0.1:\(rest)
          connect_address: 127.0.0.1:\(rest)
        etcd3:
          hosts: \(store)
        bootstrap:
          dcs:
            ttl: 20
            loop_wait: 2
            retry_timeout: 5
            maximum_lag_on_failover: 1048576
          initdb:
          - encoding: UTF8
          - auth: trust
          pg_hba:
          - local all all trust
          - host all all 127.0.0.1/32 trust
          - host replication all 127.0.0.1/32 trust
        postgresql:
          listen: 127.0.0.1:\(pg)
          connect_address: 127.0.0.1:\(pg)
          data_dir: \(dataDir)
          pgpass: \(scratch.child("pgpass-" + name))
          bin_dir: \(Self.binDir)
          authentication:
            superuser: {username: postgres, password: pg}
            replication: {username: replicator, password: rep}
          parameters:
            unix_socket_directories: \(scratch.path)
        """
    }

    @discardableResult
    func start(_ name: String) throws -> Node {
        let (rest, pg) = (Int(try unclaimedLocalPort()), Int(try unclaimedLocalPort()))
        let dataDir = scratch.child(name)
        let file = scratch.child(name + ".yml")
        guard FileManager.default.createFile(atPath: file, contents: Data(config(name, rest: rest, pg: pg, dataDir: dataDir).utf8)) else {
            throw HarnessError.system("cannot write \(file)")
        }
        try run("/bin/chown", ["postgres:postgres", file])
        let process = try WatchProcess.spawn(
            Self.setpriv, ["--reuid=postgres", "--regid=postgres", "--init-groups", Self.patroni, file],
            environment: CommandRunner.cleanEnvironment(adding: ["HOME": scratch.path]))
        let node = Node(name: name, restPort: rest, pgPort: pg, dataDir: dataDir, process: process)
        nodes[name] = node
        return node
    }

    /// Patroni's REST health: /primary answers 200 on the leader, /replica on a streaming replica.
    func role(_ node: Node, _ path: String) -> Bool {
        guard let result = try? CommandRunner.run(
            ServerBinaries.curl, ["--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--max-time", "3",
                                  "http://127.0.0.1:\(node.restPort)/\(path)"],
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 5) else { return false }
        return result.stdout == "200"
    }

    /// `psql -c SQL` as postgres on the node's port; stdout unaligned, tuples only.
    func sql(_ node: Node, _ statement: String) throws -> CommandResult {
        try CommandRunner.run(Self.setpriv, ["--reuid=postgres", "--regid=postgres", "--init-groups",
                                             Self.binDir + "/psql", "-X", "-q", "-tA", "-h", "127.0.0.1",
                                             "-p", String(node.pgPort), "-U", "postgres", "-d", "postgres", "-c", statement],
                              environment: CommandRunner.cleanEnvironment(adding: ["HOME": scratch.path]), timeoutSeconds: 15)
    }

    /// kill -9 of the node's Patroni and its postmaster (whose backends follow it), as a crashed machine.
    func kill9(_ node: Node) {
        node.process.stop()
        if let text = try? String(contentsOfFile: node.dataDir + "/postmaster.pid", encoding: .utf8),
           let pid = Int32(text.split(separator: "\n").first ?? "") {
            kill(pid, SIGKILL)
        }
    }

    /// Waits for `condition` within `seconds`, polling (an external process's state) every 200 ms.
    func poll(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)  // polling processes we do not control, inside a deadline
        }
        return try condition()
    }

    var transcript: String {
        nodes.values.sorted { $0.name < $1.name }.map { "--- \($0.name) ---\n\($0.process.stderr.suffix(6000))" }
            .joined(separator: "\n")
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        let result = try CommandRunner.run(executable, arguments, environment: CommandRunner.cleanEnvironment())
        guard result.exitCode == 0 else { throw HarnessError.system("\(executable) \(arguments) failed: \(result)") }
    }

    deinit {
        for node in nodes.values { kill9(node) }
    }
}
