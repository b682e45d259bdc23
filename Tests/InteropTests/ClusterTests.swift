import Foundation
import NIOCore
import NIOPosix
import RPC
import Synchronization
import XCTest

/// Real 3-member clusters of the `keel` binary on loopback, driven by real etcdctl: replication,
/// membership, leader failure under writes, catch-up after restart.
final class ClusterTests: XCTestCase {
    func testThreeMembersReplicateWritesFromAnyMemberAndListEachOther() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()

        for (i, m) in cluster.members.enumerated() {
            try Etcdctl(endpoint: m.endpoint).succeed(["put", "key\(i)", "value-from-\(m.name)"])
        }
        for m in cluster.members {
            // Linearizable (the default): every member sees every write, wherever it was made.
            let out = try Etcdctl(endpoint: m.endpoint).succeed(["get", "key", "--prefix"])
            XCTAssertEqual(out, "key0\nvalue-from-m0\nkey1\nvalue-from-m1\nkey2\nvalue-from-m2\n", "read on \(m.name)")
            let serializable = try Etcdctl(endpoint: m.endpoint).succeed(["get", "key", "--prefix", "--consistency=s"])
            XCTAssertEqual(serializable, out, "serializable read on \(m.name) after a linearizable one")
        }

        let list = try Etcdctl(endpoint: cluster.members[1].endpoint).succeed(["member", "list", "-w", "json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String: Any])
        let members = try XCTUnwrap(object["members"] as? [[String: Any]])
        XCTAssertEqual(members.count, 3)
        var seen: [String: (peer: [String], client: [String])] = [:]
        for m in members {
            seen[m["name"] as? String ?? "?"] = (m["peerURLs"] as? [String] ?? [], m["clientURLs"] as? [String] ?? [])
        }
        for m in cluster.members {
            XCTAssertEqual(seen[m.name]?.peer, [m.peerURL], "peer URLs of \(m.name)")
            XCTAssertEqual(seen[m.name]?.client, [m.clientURL], "client URLs of \(m.name)")
        }

        let statuses = try (0..<3).map { try cluster.status($0) }
        XCTAssertEqual(Set(statuses.map(\.leader)).count, 1, "one leader for all: \(statuses)")
        XCTAssertEqual(statuses[leader].leader, statuses[leader].memberID)
        XCTAssertEqual(Set(statuses.map(\.raftTerm)).count, 1, "one term for all: \(statuses)")
        XCTAssertGreaterThan(statuses[0].raftTerm, 1, "a term won by an election, not the bootstrap term")
        XCTAssertEqual(Set(statuses.map(\.memberID)).count, 3)

        for m in cluster.members {
            let health = try Curl.get("http://\(m.endpoint)/health")
            XCTAssertEqual(health.stdout, #"{"health":"true"}"#)
        }
    }

    func testKillingTheLeaderUnderWritesLosesNoAcknowledgedWrite() async throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let oldLeader = try cluster.awaitLeader()
        let acked = AckedWrites()
        let stop = StopFlag()
        let group = MultiThreadedEventLoopGroup.singleton

        // Four writers per member, each writing its own keys in sequence; a failed write is simply not
        // acknowledged (its outcome is unknown), an acknowledged one must survive.
        var writers: [Task<Void, Never>] = []
        for (i, m) in cluster.members.enumerated() {
            for w in 0..<4 {
                let port = Int(m.ports.client)
                writers.append(Task {
                    guard let conn = try? await GRPCClientConnection.connect(host: "127.0.0.1", port: port, group: group) else { return }
                    let client = DurabilityClient(connection: conn)
                    var n = 0
                    while !stop.isSet {
                        let key = Array("w/\(i)-\(w)/\(String(format: "%06d", n))".utf8)
                        let value = Array("v\(n)".utf8)
                        if (try? await client.put(key, value)) != nil { acked.add(key, value) }
                        n += 1
                    }
                    await client.close()
                })
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        let before = acked.count
        cluster.kill9(oldLeader)
        let newLeader = try cluster.awaitLeader(excluding: [oldLeader])
        XCTAssertNotEqual(newLeader, oldLeader)
        let atElection = acked.count
        // Writes go on through the survivors under the new leader.
        let deadline = Date().addingTimeInterval(10)
        while acked.count < atElection + 200 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        stop.set()
        for w in writers { await w.value }
        XCTAssertGreaterThan(before, 50, "writes were acknowledged before the kill")
        XCTAssertGreaterThan(acked.count, atElection + 100, "writes were acknowledged after the new election")

        try cluster.restart(oldLeader)
        let all = acked.snapshot
        for (i, m) in cluster.members.enumerated() {
            let conn = try await GRPCClientConnection.connect(host: "127.0.0.1", port: Int(m.ports.client), group: group)
            let client = DurabilityClient(connection: conn)
            let stored = try await client.range(from: Array("w/".utf8), to: Array("w0".utf8))
            await client.close()
            var missing = 0
            for (k, v) in all where stored[k]?.value != v { missing += 1 }
            XCTAssertEqual(missing, 0, "member \(i) lost \(missing) of \(all.count) acknowledged writes")
        }
    }

    func testRandomWorkloadLeavesEqualHashKVOnEveryMember() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        _ = try cluster.awaitLeader()
        var rng = SystemRandomNumberGenerator()
        for step in 0..<60 {
            let ctl = Etcdctl(endpoint: cluster.members[Int.random(in: 0..<3, using: &rng)].endpoint)
            let key = "hk/\(Int.random(in: 0..<12, using: &rng))"
            switch Int.random(in: 0..<4, using: &rng) {
            case 0, 1: try ctl.succeed(["put", key, "v\(step)"])
            case 2: try ctl.succeed(["del", key])
            default:
                try ctl.succeed(["txn"], stdin: "mod(\"\(key)\") > \"0\"\n\nput \(key) t\(step)\n\nput \(key) f\(step)\n\n")
            }
        }
        // A linearizable read on each member first: each has then applied everything committed.
        for m in cluster.members { try Etcdctl(endpoint: m.endpoint).succeed(["get", "hk/", "--prefix"]) }
        let out = try Etcdctl(endpoint: cluster.endpoints.joined(separator: ",")).succeed(["endpoint", "hashkv"], json: true)
        let array = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        let hashes = array.compactMap { ($0["HashKV"] as? [String: Any])?["hash"] as? NSNumber }.map(\.uint32Value)
        XCTAssertEqual(hashes.count, 3, out)
        XCTAssertEqual(Set(hashes).count, 1, "members disagree: \(out)")
        XCTAssertNotEqual(hashes.first, 0)
    }

    /// Alarms are replicated: the member whose quota check refused a write raises NOSPACE through the
    /// log, every member then lists it and caps writes, and one disarm clears it everywhere.
    func testNoSpaceAlarmIsReplicatedAndDisarmedForAll() throws {
        let cluster = try KeelCluster(size: 3, extraFlags: ["--quota-backend-bytes", "300000"])
        defer { cluster.stopAll() }
        _ = try cluster.awaitLeader()
        let first = Etcdctl(endpoint: cluster.members[0].endpoint)
        let value = String(repeating: "x", count: 20_000)
        var refused: CommandResult?
        for i in 0..<60 {
            let r = try first.run(["put", "big\(i)", value])
            if r.exitCode != 0 { refused = r; break }
        }
        let failure = try XCTUnwrap(refused, "writes never hit the quota")
        XCTAssertTrue(failure.stderr.contains("etcdserver: mvcc: database space exceeded"), "\(failure)")
        for m in cluster.members {
            let ctl = Etcdctl(endpoint: m.endpoint)
            try ctl.succeed(["get", "big0", "--keys-only"])  // linearizable: the alarm entry is applied here too
            XCTAssertTrue(try ctl.succeed(["alarm", "list"]).contains("alarm:NOSPACE"), "alarm on \(m.name)")
            let small = try ctl.run(["put", "small", "1"])
            XCTAssertNotEqual(small.exitCode, 0, "\(m.name) let a write through under the alarm")
        }
        try first.succeed(["del", "big", "--prefix"])
        XCTAssertTrue(try Etcdctl(endpoint: cluster.members[2].endpoint).succeed(["alarm", "disarm"]).contains("alarm:NOSPACE"))
        for m in cluster.members {
            let ctl = Etcdctl(endpoint: m.endpoint)
            try ctl.succeed(["get", "small"])
            XCTAssertEqual(try ctl.succeed(["alarm", "list"]).trimmingCharacters(in: .whitespacesAndNewlines), "")
            XCTAssertTrue(try ctl.succeed(["put", "small", m.name]).contains("OK"))
        }
    }

    /// The etcd runbook for growing and shrinking a cluster: writes until the log is compacted, `member add
    /// --learner`, start the new member with `--initial-cluster-state existing` (it can only catch up by
    /// snapshot), promote it, remove an old member (which then stops), and the cluster carries on.
    func testLearnerJoinsBysnapshotIsPromotedAndAMemberIsRemoved() throws {
        let cluster = try KeelCluster(size: 3, extraFlags: ["--snapshot-count", "40"])
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        for i in 0..<100 { try ctl.succeed(["put", "grow/\(i)", "v\(i)"]) }
        let learner = try cluster.addMember(name: "m3", learner: true, via: (leader + 1) % 3)
        XCTAssertTrue(cluster.members[learner].process!.log.contains("applied incoming snapshot"),
                      "the learner caught up by snapshot:\n\(cluster.members[learner].process!.log)")
        let learnerCtl = Etcdctl(endpoint: cluster.members[learner].endpoint)
        XCTAssertEqual(try learnerCtl.succeed(["get", "grow/99", "--consistency=s", "--print-value-only"]), "v99\n")
        // A learner refuses linearizable requests, as etcd's does.
        let refused = try learnerCtl.run(["put", "x", "y"])
        XCTAssertTrue(refused.stderr.contains("etcdserver: rpc not supported for learner"), "\(refused)")

        let list = try ctl.succeed(["member", "list"])
        let learnerLine = try XCTUnwrap(list.split(separator: "\n").first { $0.contains(", m3, ") })
        XCTAssertTrue(learnerLine.hasSuffix(", true"), "listed as a learner: \(list)")
        let learnerID = String(learnerLine.split(separator: ",")[0])
        // etcd promotes only a learner in sync with the leader: wait until it has applied what the leader
        // committed (as an operator watching `endpoint status` would).
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, try cluster.status(learner).raftIndex < cluster.status(leader).raftIndex {
            Thread.sleep(forTimeInterval: 0.05)
        }
        // Promote through a follower: it hands the call to the leader.
        try Etcdctl(endpoint: cluster.members[(leader + 2) % 3].endpoint).succeed(["member", "promote", learnerID])
        XCTAssertTrue(try ctl.succeed(["member", "list"]).contains(", m3, \(cluster.members[learner].peerURL), \(cluster.members[learner].clientURL), false"))
        try learnerCtl.succeed(["put", "after-promotion", "1"])

        // Remove a follower that is not the new member.
        let victim = (leader + 1) % 3
        let victimID = String(format: "%llx", try cluster.status(victim).memberID)
        try ctl.succeed(["member", "remove", victimID])
        let exit = try XCTUnwrap(cluster.members[victim].process).waitForExit(timeoutSeconds: 10)
        XCTAssertEqual(exit, .exited(0), "a removed member stops by itself")
        XCTAssertTrue(cluster.members[victim].process!.log.contains("the member has been permanently removed from the cluster"))
        XCTAssertEqual(try ctl.succeed(["member", "list"]).split(separator: "\n").count, 3)
        for i in [leader, (leader + 2) % 3, learner] {
            try Etcdctl(endpoint: cluster.members[i].endpoint).succeed(["put", "after-removal-\(i)", "ok"])
        }
        for i in [leader, (leader + 2) % 3, learner] {
            let out = try Etcdctl(endpoint: cluster.members[i].endpoint).succeed(["get", "after-", "--prefix", "--keys-only"])
            XCTAssertEqual(out.split(separator: "\n").count, 4, out)
        }
    }

    /// etcd resolves host names when the advertised peer URLs and the member's --initial-cluster entry
    /// differ as strings (the StatefulSet recipe relies on it): "localhost" and "127.0.0.1" match.
    func testAdvertisedPeerURLMatchesClusterEntryAfterResolving() throws {
        let scratch = try ScratchDirectory(label: "resolve")
        let ports = try ServerPorts.pick()
        let client = "http://127.0.0.1:\(ports.client)"
        let server = try ServerProcess(kind: .keel, ports: ports, dataDir: scratch.child("data"), arguments: [
            "--name", "n1", "--data-dir", scratch.child("data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", "http://127.0.0.1:\(ports.peer)",
            "--initial-advertise-peer-urls", "http://localhost:\(ports.peer)",
            "--initial-cluster", "n1=http://127.0.0.1:\(ports.peer)",
        ], environment: CommandRunner.cleanEnvironment())
        defer { server.stop() }
        try Etcdctl(server).succeed(["put", "resolved", "yes"])
    }

    /// Growing 1 → 2 → 3 voters with plain `member add` (no --learner): each add answers at once and the
    /// cluster keeps serving while the new member is not started yet; once started, it catches up and the
    /// leader makes it a voting member.
    func testGrowingFromOneMemberWithVoterAdds() throws {
        let cluster = try KeelCluster(size: 1)
        defer { cluster.stopAll() }
        let ctl = Etcdctl(endpoint: cluster.members[0].endpoint)
        try ctl.succeed(["put", "seed", "1"])
        for name in ["m1", "m2"] {
            let added = try cluster.addMember(name: name, learner: false, via: 0)
            try ctl.succeed(["put", "after-\(name)", "1"])
            // etcd's clients see a voter at once; Raft promotes it when it has caught up. Wait for that (a
            // write then needs its acknowledgment too: kill it while still a learner and a 2-voter cluster
            // would lose its quorum). The next `member add` may meet the promotion still pending: it waits.
            let deadline = Date().addingTimeInterval(10)
            var voters = 0
            while Date() < deadline {
                let out = try ctl.succeed(["member", "list", "-w", "json"])
                let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
                let list = try XCTUnwrap(obj["members"] as? [[String: Any]])
                voters = list.filter { ($0["isLearner"] as? Bool) != true && !($0["name"] as? String ?? "").isEmpty }.count
                if voters == added + 1, try !cluster.status(added).isLearner { break }
                Thread.sleep(forTimeInterval: 0.1)  // polling an external process
            }
            XCTAssertEqual(voters, added + 1, "started voting members after adding \(name)")
            XCTAssertEqual(try Etcdctl(endpoint: cluster.members[added].endpoint).succeed(["get", "seed", "--print-value-only"]), "1\n")
        }
        let leader = try cluster.awaitLeader()
        let statuses = try (0..<3).map { try cluster.status($0) }
        XCTAssertEqual(Set(statuses.map(\.leader)), [statuses[leader].memberID])
        // The first member led throughout and promoted both (Raft-level voters now, not just in the list).
        let promotions = cluster.members[0].process!.log.components(separatedBy: "promoting caught-up member to voter").count - 1
        XCTAssertEqual(promotions, 2, cluster.members[0].process!.log)
        // Three voters: losing one keeps a quorum.
        cluster.kill9((leader + 1) % 3)
        try Etcdctl(endpoint: cluster.members[leader].endpoint).succeed(["put", "with-one-down", "1"])
    }

    /// Raft takes one membership change at a time. Two `member` requests arriving while the cluster cannot
    /// commit (two of three members down) both succeed once it can: the second waits for the first
    /// instead of failing with "unhealthy cluster" (the same wait covers our own learner promotions).
    func testMembershipChangesMeetingAPendingOneWaitForIt() throws {
        // Slow elections, so the leader keeps leading (check-quorum) while its followers are down.
        let cluster = try KeelCluster(size: 3, extraFlags: ["--heartbeat-interval", "100", "--election-timeout", "8000"])
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let (a, b) = ((leader + 1) % 3, (leader + 2) % 3)
        let removed = try cluster.status(b).memberID
        cluster.kill9(a)
        cluster.kill9(b)
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        let spare = try ServerPorts.pick()
        let requests = [["member", "add", "spare", "--learner", "--peer-urls", "http://127.0.0.1:\(spare.peer)"],
                        ["member", "remove", String(removed, radix: 16)]]
        let results = CommandResults()
        let group = DispatchGroup()
        for (i, args) in requests.enumerated() {
            DispatchQueue.global().async(group: group) { results.set(i, try? ctl.run(args)) }
        }
        // Both are in once the leader logs that one waits; then give the cluster its quorum back.
        let process = try XCTUnwrap(cluster.members[leader].process)
        let deadline = Date().addingTimeInterval(5)
        while !process.log.contains("membership change waits for the pending one") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)  // polling an external process's log
        }
        XCTAssertTrue(process.log.contains("membership change waits for the pending one"), process.log)
        try cluster.restart(a)
        group.wait()
        for i in requests.indices {
            let r = try XCTUnwrap(results.get(i))
            XCTAssertEqual(r.exitCode, 0, "\(requests[i]): \(r)")
        }
        let list = try ctl.succeed(["member", "list"])
        XCTAssertTrue(list.contains("spare") || list.contains("unstarted"), list)
        XCTAssertFalse(list.contains(String(removed, radix: 16)), list)
        XCTAssertEqual(list.split(separator: "\n").count, 3, list)
    }

    /// etcd's disaster recovery: the other members are lost; one survivor restarts with
    /// --force-new-cluster and serves alone, with every committed write, as a one-member cluster.
    func testForceNewClusterRestartsASurvivorAlone() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        for i in 0..<20 { try ctl.succeed(["put", "survive/\(i)", "v\(i)"]) }
        let survivor = (leader + 1) % 3
        try Etcdctl(endpoint: cluster.members[survivor].endpoint).succeed(["get", "survive/19"])  // applied there
        for i in 0..<3 { cluster.kill9(i) }
        try cluster.restart(survivor, extraFlags: ["--force-new-cluster"])
        let process = try XCTUnwrap(cluster.members[survivor].process)
        XCTAssertTrue(process.log.contains("forcing restart of member"), process.log)
        let alone = Etcdctl(endpoint: cluster.members[survivor].endpoint)
        XCTAssertEqual(try alone.succeed(["get", "survive/", "--prefix", "--keys-only"]).split(separator: "\n").count, 20)
        try alone.succeed(["put", "after-recovery", "1"])
        let list = try alone.succeed(["member", "list"])
        XCTAssertEqual(list.split(separator: "\n").count, 1, list)
        XCTAssertTrue(list.contains(", \(cluster.members[survivor].name), "), list)
        let status = try cluster.status(survivor)
        XCTAssertEqual(status.leader, status.memberID)
        // A normal restart afterwards keeps the one-member cluster.
        process.stop()
        try cluster.restart(survivor)
        XCTAssertEqual(try alone.succeed(["get", "after-recovery", "--print-value-only"]), "1\n")
    }

    /// `member remove` of the leader itself: it hands leadership over once the removal commits, stops,
    /// and the two others carry on with the data.
    func testRemovingTheLeaderHandsOverAndItStops() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let other = (leader + 1) % 3
        let ctl = Etcdctl(endpoint: cluster.members[other].endpoint)
        try ctl.succeed(["put", "before", "1"])
        let leaderID = String(format: "%llx", try cluster.status(leader).memberID)
        try ctl.succeed(["member", "remove", leaderID])
        XCTAssertEqual(try XCTUnwrap(cluster.members[leader].process).waitForExit(timeoutSeconds: 10), .exited(0),
                       "the removed leader stops by itself")
        let newLeader = try cluster.awaitLeader(excluding: [leader])
        XCTAssertNotEqual(newLeader, leader)
        try ctl.succeed(["put", "after", "1"])
        for i in 0..<3 where i != leader {
            let out = try Etcdctl(endpoint: cluster.members[i].endpoint).succeed(["get", "", "--from-key", "--keys-only"])
            XCTAssertEqual(out.split(separator: "\n"), ["after", "before"], "member \(i)")
        }
        XCTAssertEqual(try ctl.succeed(["member", "list"]).split(separator: "\n").count, 2)
    }

    /// `etcdctl move-leader` (Maintenance/MoveLeader): leadership moves to the chosen follower; a member
    /// that does not lead refuses with etcd's "not leader".
    func testMoveLeaderHandsLeadershipToTheChosenMember() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let target = (leader + 2) % 3
        let targetID = String(format: "%llx", try cluster.status(target).memberID)
        let out = try Etcdctl(endpoint: cluster.endpoints.joined(separator: ",")).succeed(["move-leader", targetID])
        XCTAssertTrue(out.contains("Leadership transferred from"), out)
        XCTAssertEqual(try cluster.awaitLeader(), target)
        XCTAssertGreaterThan(try cluster.status(target).raftTerm, 2)
        // Sent straight to a follower, MoveLeader is refused as etcd refuses it.
        let follower = (target + 1) % 3
        let refused = try Etcdctl(endpoint: cluster.members[follower].endpoint).run(["move-leader", targetID])
        XCTAssertNotEqual(refused.exitCode, 0)
        try Etcdctl(endpoint: cluster.members[target].endpoint).succeed(["put", "after-move", "1"])
    }

    /// python etcd3 (Debian python3-etcd3) against the cluster: a transaction and puts through one follower,
    /// reads through the other members, `members` listing all three, `status()` naming the leader.
    func testPythonEtcd3AgainstEveryMember() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let follower = cluster.members[(leader + 1) % 3].process!
        let wrote = try Python.succeed("""
            c.put("py/a", "1")
            ok, _ = c.transaction(compare=[c.transactions.value("py/a") == "1"],
                                  success=[c.transactions.put("py/b", "2")], failure=[])
            out(ok)
            out(sorted(m.name for m in c.members))
            out(c.status().leader.name)
            """, against: follower)
        let names = cluster.members.map(\.name).sorted()
        XCTAssertEqual(wrote, "true\n\(String(data: try JSONSerialization.data(withJSONObject: names), encoding: .utf8)!.replacingOccurrences(of: ",", with: ", "))\n\"\(cluster.members[leader].name)\"\n")
        for m in cluster.members {
            let read = try Python.succeed("""
                out([got(c.get("py/a"))[0], got(c.get("py/b"))[0]])
                """, against: m.process!)
            XCTAssertEqual(read, "[\"1\", \"2\"]\n", "read on \(m.name)")
        }
    }

    func testRestartedFollowerCatchesUp() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let follower = (leader + 1) % 3
        cluster.kill9(follower)
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        for i in 0..<50 { try ctl.succeed(["put", "catch/\(i)", "v\(i)"]) }
        try cluster.restart(follower)
        let out = try Etcdctl(endpoint: cluster.members[follower].endpoint).succeed(["get", "catch/", "--prefix", "--keys-only"])
        XCTAssertEqual(out.split(separator: "\n").count, 50, out)
    }
}

/// Acknowledged writes, shared by the writer tasks.
final class AckedWrites: Sendable {
    private let state = Mutex([[UInt8]: [UInt8]]())
    func add(_ k: [UInt8], _ v: [UInt8]) { state.withLock { $0[k] = v } }
    var count: Int { state.withLock { $0.count } }
    var snapshot: [[UInt8]: [UInt8]] { state.withLock { $0 } }
}

/// Results of commands run on other threads, by index.
final class CommandResults: Sendable {
    private let state = Mutex([Int: CommandResult]())
    func set(_ i: Int, _ r: CommandResult?) { state.withLock { $0[i] = r } }
    func get(_ i: Int) -> CommandResult? { state.withLock { $0[i] } }
}

final class StopFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
