import Foundation

/// A real multi-member Keel cluster on loopback: one `keel` process per member, each on its own free
/// client and peer ports and its own data dir, started with etcd's clustering flags exactly as the
/// StatefulSet and docker-compose recipes pass them. Every process is reaped (`ServerProcess.deinit`).
final class KeelCluster {
    /// TLS for a cluster: https peer and client URLs, the flags every member gets, and etcdctl's flags.
    struct Security {
        var peerTLS = false
        var clientTLS = false
        var serverFlags: [String] = []
        var etcdctlFlags: [String] = []

        static let plain = Security()
    }

    final class Member {
        let name: String
        let ports: ServerPorts
        let scratch: ScratchDirectory
        let security: Security
        var process: ServerProcess?
        var dataDir: String { scratch.child("data") }
        var endpoint: String { "127.0.0.1:\(ports.client)" }
        var peerURL: String { "\(security.peerTLS ? "https" : "http")://127.0.0.1:\(ports.peer)" }
        var clientURL: String { "\(security.clientTLS ? "https" : "http")://\(endpoint)" }

        init(name: String, security: Security = .plain) throws {
            self.security = security
            self.name = name
            ports = try ServerPorts.pick()
            scratch = try ScratchDirectory(label: "cluster-\(name)")
        }
    }

    /// Fast timeouts so elections take a fraction of a second (still 10 ticks per election, as etcd's defaults).
    static let timingFlags = ["--heartbeat-interval", "50", "--election-timeout", "500"]

    private(set) var members: [Member] = []
    let token: String
    let extraFlags: [String]
    let security: Security
    /// keel, or real etcd to check a cluster test's expectations against etcd itself.
    let kind: ServerKind

    /// Starts `size` members of a new cluster and waits until every one serves.
    init(size: Int, extraFlags: [String] = [], security: Security = .plain, kind: ServerKind = .keel) throws {
        self.kind = kind
        token = "keel-test-\(UUID().uuidString.prefix(8))"
        self.extraFlags = extraFlags + security.serverFlags
        self.security = security
        for i in 0..<size { members.append(try Member(name: "m\(i)", security: security)) }
        let initial = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        for m in members { m.process = try launch(m, initialCluster: initial, state: "new") }
        for m in members { try m.process!.waitUntilReady() }
    }

    var endpoints: [String] { members.compactMap { $0.process == nil ? nil : $0.endpoint } }

    func launch(_ m: Member, initialCluster: String, state: String, wait: Bool = false,
                extra: [String] = []) throws -> ServerProcess {
        let flags = [
            "--name", m.name, "--data-dir", m.dataDir,
            "--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
            "--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
            "--initial-cluster", initialCluster, "--initial-cluster-state", state,
            "--initial-cluster-token", token,
        ] + Self.timingFlags + extraFlags + extra
        return try ServerProcess(kind: kind, ports: m.ports, dataDir: m.dataDir, arguments: flags,
                                 environment: CommandRunner.cleanEnvironment(), waitUntilReady: wait)
    }

    /// Restarts a stopped member on its data dir (the initial flags are ignored then, as by etcd).
    func restart(_ i: Int, extraFlags: [String] = []) throws {
        let m = members[i]
        precondition(m.process == nil || m.process!.exitStatus != nil, "member \(i) still runs")
        let initial = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        m.process = try launch(m, initialCluster: initial, state: "new", wait: true, extra: extraFlags)
    }

    /// `etcdctl member add` (as a learner or voter) through member `via`, then starts the new member with
    /// `--initial-cluster-state existing` and the cluster list `member add` printed, as etcd's docs do.
    /// Returns its index.
    func addMember(name: String, learner: Bool, via: Int) throws -> Int {
        let m = try Member(name: name, security: security)
        var args = ["member", "add", name, "--peer-urls", m.peerURL]
        if learner { args.append("--learner") }
        let out = try etcdctl(via).succeed(args)
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("ETCD_INITIAL_CLUSTER=") }) else {
            throw HarnessError.badOutput("member add printed no ETCD_INITIAL_CLUSTER: \(out)")
        }
        let initial = line.dropFirst("ETCD_INITIAL_CLUSTER=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        members.append(m)
        m.process = try launch(m, initialCluster: initial, state: "existing", wait: true)
        return members.count - 1
    }

    /// etcdctl against member `i`, with the cluster's TLS flags.
    func etcdctl(_ i: Int) -> Etcdctl {
        Etcdctl(endpoint: security.clientTLS ? members[i].clientURL : members[i].endpoint, flags: security.etcdctlFlags)
    }

    func kill9(_ i: Int) {
        members[i].process?.kill9()
    }

    func stopAll() {
        for m in members { m.process?.stop() }
    }

    /// `etcdctl endpoint status` of member `i`, parsed.
    struct Status: Equatable {
        var memberID: UInt64
        var leader: UInt64
        var raftTerm: UInt64
        var raftIndex: UInt64
        var revision: Int64
        var isLearner: Bool

        /// Parses `etcdctl endpoint status -w json` for one endpoint.
        init(etcdctlJSON out: String) throws {
            guard let array = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
                  let status = array.first?["Status"] as? [String: Any],
                  let header = status["header"] as? [String: Any] else {
                throw HarnessError.badOutput("endpoint status: \(out)")
            }
            func u(_ v: Any?) -> UInt64 { (v as? NSNumber)?.uint64Value ?? 0 }
            self.init(memberID: u(header["member_id"]), leader: u(status["leader"]), raftTerm: u(header["raft_term"]),
                      raftIndex: u(status["raftIndex"]), revision: Int64(u(header["revision"])),
                      isLearner: (status["isLearner"] as? Bool) ?? false)
        }

        init(memberID: UInt64, leader: UInt64, raftTerm: UInt64, raftIndex: UInt64, revision: Int64, isLearner: Bool) {
            (self.memberID, self.leader, self.raftTerm, self.raftIndex, self.revision, self.isLearner) =
                (memberID, leader, raftTerm, raftIndex, revision, isLearner)
        }
    }

    func status(_ i: Int) throws -> Status {
        let out = try etcdctl(i).succeed(["endpoint", "status"], json: true)
        return try Status(etcdctlJSON: out)
    }

    /// Index of the member that every running member agrees leads, waiting up to `timeout` seconds.
    func awaitLeader(excluding: Set<Int> = [], timeout: Double = 15) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            var leaders: Set<UInt64> = []
            var ids: [UInt64: Int] = [:]
            var ok = true
            for (i, m) in members.enumerated() where m.process?.exitStatus == nil && !excluding.contains(i) {
                guard let s = try? status(i) else { ok = false; break }
                leaders.insert(s.leader)
                ids[s.memberID] = i
            }
            if ok, leaders.count == 1, let l = leaders.first, l != 0, let index = ids[l] { return index }
            last = "leaders seen: \(leaders.map { String($0, radix: 16) })"
            Thread.sleep(forTimeInterval: 0.1)  // polling an external process; no event to wait on
        }
        throw HarnessError.notReady("no agreed leader within \(timeout)s (\(last))")
    }
}
