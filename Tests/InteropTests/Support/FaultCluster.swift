import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real multi-member Keel cluster on loopback whose peer traffic runs through TCP proxies the test
/// controls (no root needed): member i listens for peers on its own port and advertises a proxy in front
/// of it. On loopback every peer dials from 127.0.0.1, so a proxy's cut loses everything sent *to* its
/// member while what the member sends still arrives (one-way loss). Processes can be SIGKILLed and
/// restarted, or paused with SIGSTOP and resumed. Everything is reaped and resumed on `shutdown`.
/// `@unchecked Sendable`: one thread at a time drives it (the fault thread during a run, the test before
/// and after; the hand-over is a continuation, which orders the accesses).
final class FaultCluster: @unchecked Sendable {
    final class Member {
        let name: String
        let ports: ServerPorts
        let proxyPort: UInt16
        let scratch: ScratchDirectory
        let proxy: PeerProxy
        var process: ServerProcess?
        /// Every process this member ran, for the logs.
        var pastLogs: [String] = []
        var paused = false
        var inboundCut = false
        var dataDir: String { scratch.child("data") }
        var endpoint: String { "127.0.0.1:\(ports.client)" }
        var running: Bool { process?.exitStatus == nil && process != nil }

        init(name: String) throws {
            self.name = name
            ports = try ServerPorts.pick()
            proxyPort = try unclaimedLocalPort()
            scratch = try ScratchDirectory(label: "fault-\(name)")
            proxy = try PeerProxy(namespace: nil, listenHost: "127.0.0.1", listenPort: proxyPort, targetPort: ports.peer)
        }
    }

    private(set) var members: [Member] = []
    let token = "keel-faults-\(UUID().uuidString.prefix(8))"
    private(set) var memberIDs: [UInt64] = []

    init(size: Int) throws {
        for i in 0..<size { members.append(try Member(name: "m\(i)")) }
        do {
            for i in 0..<size { members[i].process = try launch(i, wait: false) }
            for m in members { try m.process!.waitUntilReady() }
            memberIDs = try (0..<size).map { try status($0).memberID }
        } catch {
            shutdown()
            throw error
        }
    }

    private var initialCluster: String { members.map { "\($0.name)=http://127.0.0.1:\($0.proxyPort)" }.joined(separator: ",") }

    private func launch(_ i: Int, wait: Bool) throws -> ServerProcess {
        let m = members[i]
        let client = "http://\(m.endpoint)"
        let flags = [
            "--name", m.name, "--data-dir", m.dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", "http://127.0.0.1:\(m.ports.peer)",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(m.proxyPort)",
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", token,
        ] + KeelCluster.timingFlags
        return try ServerProcess(kind: .keel, ports: m.ports, dataDir: m.dataDir, arguments: flags,
                                 environment: CommandRunner.cleanEnvironment(), waitUntilReady: wait)
    }

    // MARK: faults

    func kill9(_ i: Int) {
        guard let p = members[i].process else { return }
        if members[i].paused { resume(i) }
        p.kill9()
        members[i].pastLogs.append(p.log)
    }

    /// Starts a killed member again on its data dir; does not wait for it to serve (a member that comes
    /// back while the cluster has no quorum prints its ready line late).
    func restart(_ i: Int) throws {
        precondition(!members[i].running, "m\(i) still runs")
        members[i].process = try launch(i, wait: false)
    }

    func pause(_ i: Int) {
        guard members[i].running, !members[i].paused else { return }
        kill(members[i].process!.pid, SIGSTOP)
        members[i].paused = true
    }

    func resume(_ i: Int) {
        guard members[i].paused else { return }
        if let p = members[i].process { kill(p.pid, SIGCONT) }
        members[i].paused = false
    }

    func cutInbound(_ i: Int) {
        members[i].proxy.blackhole(from: "127.0.0.1")
        members[i].inboundCut = true
    }

    /// Everything sent to member i arrives `milliseconds` late (what it sends is on time).
    func delayInbound(_ i: Int, milliseconds: Int) {
        members[i].proxy.delay(from: "127.0.0.1", milliseconds: milliseconds)
        members[i].inboundCut = true
    }

    func restoreInbound(_ i: Int) {
        members[i].proxy.delay(from: "127.0.0.1", milliseconds: 0)
        members[i].proxy.restore(from: "127.0.0.1")
        members[i].inboundCut = false
    }

    /// `etcdctl move-leader` through the current leader; the result says whether it worked.
    func moveLeader(from leader: Int, to target: Int) throws -> CommandResult {
        try Etcdctl(endpoint: members[leader].endpoint).run(["move-leader", String(memberIDs[target], radix: 16)])
    }

    /// A fourth member joins mid-run: `member add --learner` through `via`, starts with the cluster list
    /// that printed, is promoted to voter once in sync (etcd refuses before), and is returned with its id.
    /// `initialCluster`, when given, turns the printed list into the one the guest starts with; `beforeStart`
    /// runs between the add and the guest's start.
    func addGuest(name: String, via: Int, initialCluster rewrite: ((String) -> String)? = nil,
                  beforeStart: () -> Void = {}) throws -> (member: Member, id: UInt64) {
        let guest = try Member(name: name)
        let ctl = Etcdctl(endpoint: members[via].endpoint)
        let out = try ctl.succeed(["member", "add", name, "--learner", "--peer-urls", "http://127.0.0.1:\(guest.proxyPort)"])
        guard let idText = out.split(separator: " ").dropFirst().first, let id = UInt64(idText, radix: 16),
              let line = out.split(separator: "\n").first(where: { $0.hasPrefix("ETCD_INITIAL_CLUSTER=") }) else {
            throw HarnessError.badOutput("member add: \(out)")
        }
        let printed = line.dropFirst("ETCD_INITIAL_CLUSTER=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let initial = rewrite?(printed) ?? printed
        beforeStart()
        let client = "http://\(guest.endpoint)"
        guest.process = try ServerProcess(kind: .keel, ports: guest.ports, dataDir: guest.dataDir, arguments: [
            "--name", name, "--data-dir", guest.dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", "http://127.0.0.1:\(guest.ports.peer)",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(guest.proxyPort)",
            "--initial-cluster", initial, "--initial-cluster-state", "existing", "--initial-cluster-token", token,
        ] + KeelCluster.timingFlags, environment: CommandRunner.cleanEnvironment(), waitUntilReady: true)
        let deadline = Date().addingTimeInterval(20)
        var last = ""
        while Date() < deadline {
            let r = try ctl.run(["member", "promote", String(id, radix: 16)])
            if r.exitCode == 0 { return (guest, id) }
            last = r.stderr
            Thread.sleep(forTimeInterval: 0.2)  // polling the cluster until the learner is in sync
        }
        throw HarnessError.notReady("guest \(name) never promoted: \(last)")
    }

    /// `member remove` through `via`; the removed member stops by itself (as etcd's does).
    func removeGuest(_ guest: Member, id: UInt64, via: Int) throws {
        try Etcdctl(endpoint: members[via].endpoint).succeed(["member", "remove", String(id, radix: 16)])
        if guest.process?.waitForExit(timeoutSeconds: 15) == nil { guest.process?.kill9() }
        guest.proxy.stop()
    }

    /// Ends every fault (resume, reconnect, restart), leaving all members running.
    func healAll() throws {
        for i in members.indices {
            resume(i)
            restoreInbound(i)
            if !members[i].running { try restart(i) }
        }
    }

    func shutdown() {
        for (i, m) in members.enumerated() {
            resume(i)
            m.process?.stop()
            m.proxy.stop()
        }
    }

    deinit { shutdown() }

    // MARK: observation

    func status(_ i: Int) throws -> KeelCluster.Status {
        try KeelCluster.Status(etcdctlJSON: try Etcdctl(endpoint: members[i].endpoint).succeed(["endpoint", "status"], json: true))
    }

    /// Index of the member every running, unpaused member names as leader, within `timeout` seconds.
    func awaitLeader(timeout: Double = 20) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            var leaders: Set<UInt64> = []
            var ok = true
            for (i, m) in members.enumerated() where m.running && !m.paused {
                guard let s = try? status(i) else { ok = false; break }
                leaders.insert(s.leader)
            }
            if ok, leaders.count == 1, let l = leaders.first, l != 0, let index = memberIDs.firstIndex(of: l) { return index }
            last = "leaders seen: \(leaders.map { String($0, radix: 16) })"
            Thread.sleep(forTimeInterval: 0.1)  // polling external processes; no event to wait on
        }
        throw HarnessError.notReady("no agreed leader within \(timeout)s (\(last))")
    }

    var logs: String {
        members.map { m in
            (m.pastLogs + [m.process?.log ?? ""]).enumerated()
                .map { "--- \(m.name) run \($0.offset) ---\n\($0.element)" }.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
