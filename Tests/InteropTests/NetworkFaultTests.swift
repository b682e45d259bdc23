import Foundation
import XCTest

/// Network faults between the members of a real 3-member Keel cluster (issue #7): each member runs in a
/// network namespace of its own, reaches its peers over a bridge the test controls and through a peer proxy
/// that can lose one direction of traffic (see `NetnsCluster`). Clients are real etcdctl runs over a client
/// path that stays up, so the test sees what a cut-off member answers. Timing: heartbeat 50 ms, election
/// timeout 500 ms (`NetnsCluster.electionMs`); pre-vote off (etcd 3.4's default, as Keel's), CheckQuorum on
/// (always, as in etcd).
///
/// Healing a link is not instant: TCP connections that lost segments while the link was down retransmit with
/// exponential back-off, so the first messages after `ip link set up` can take a few seconds to arrive (observed
/// 2–6 s); the waits after healing allow 20 s.
///
/// Every wait is a bounded poll on something observable (`NetnsCluster.poll`).
final class NetworkFaultTests: XCTestCase {
    /// What etcdctl prints when a member that cannot reach a quorum refuses a write or a linearizable read.
    /// Keel fails both at once with etcd's ErrNoLeader text (gRPC Unavailable). Real etcd 3.4.23 (run this
    /// suite with KEEL_INTEROP_SUBJECT=etcd) refuses too, but only after waiting: a write ends at the request
    /// timeout with "Unknown: context deadline exceeded" (raft holds proposals while there is no leader), a
    /// read's ReadIndex ends with "request timed out", which etcdctl retries until its own --command-timeout
    /// (the deadline then surfaces either client-side or in the server's answer: two spellings).
    private enum Refused { case write, read }
    private static func refusal(_ kind: Refused) -> Set<String> {
        switch (ServerKind.subject, kind) {
        case (.keel, _): return ["Error: etcdserver: no leader"]
        case (.etcd, .write): return ["Error: rpc error: code = Unknown desc = context deadline exceeded"]
        case (.etcd, .read):
            return ["Error: context deadline exceeded", "Error: rpc error: code = Unknown desc = context deadline exceeded"]
        }
    }

    /// Runs `body` on a fresh cluster and always tears it down (processes, proxies, namespaces); prints the
    /// members' logs when the test failed (or with KEEL_FAULT_LOGS set).
    private func withCluster(_ body: (NetnsCluster) throws -> Void) throws {
        guard NetTool.available else { throw XCTSkip("needs root and iproute2 (network namespaces)") }
        let cluster = try NetnsCluster(size: 3)
        defer { cluster.shutdown() }
        let failuresBefore = testRun?.totalFailureCount ?? 0
        do {
            try body(cluster)
        } catch {
            print(cluster.logs)
            throw error
        }
        if (testRun?.totalFailureCount ?? 0) > failuresBefore || ProcessInfo.processInfo.environment["KEEL_FAULT_LOGS"] != nil {
            print(cluster.logs)
        }
    }

    // MARK: 1. An isolated follower

    /// Proves: with one follower cut off (both directions, both peers), the other two keep committing writes
    /// and serving linearizable reads; the cut-off member refuses linearizable reads and writes (Keel with etcd's
    /// "etcdserver: no leader", see `refusal`: it cannot know whether it is current) but still answers a serializable read
    /// from its own, stale state; once the link is back it catches up and all three hold the same data.
    func testIsolatedFollowerRefusesLinearizableRequestsAndCatchesUpAfterHealing() throws { try withCluster(isolatedFollower) }

    private func isolatedFollower(_ cluster: NetnsCluster) throws {
        let started = Date()
        let (leader, _) = try cluster.awaitLeader(among: [0, 1, 2])
        let cut = (leader + 1) % 3, other = (leader + 2) % 3
        try cluster.succeed(leader, ["put", "before", "b"])
        XCTAssertEqual(try cluster.succeed(cut, ["get", "before", "--print-value-only"]), "b\n")

        try cluster.isolate(cut)
        let isolatedAt = Date()
        try cluster.poll("isolated m\(cut) to notice it hears no leader", timeout: 5) {
            try cluster.status(cut).leader == 0 ? true : nil
        }
        print("m\(cut) lost its leader \(seconds(since: isolatedAt)) after isolation")

        // The majority serves: writes through the leader and through the other follower, linearizable reads on both.
        for n in 0..<6 { try cluster.succeed(n % 2 == 0 ? leader : other, ["put", "during/\(n)", "v\(n)"]) }
        let during = (0..<6).map { "during/\($0)\nv\($0)\n" }.joined()
        for m in [leader, other] {
            XCTAssertEqual(try cluster.succeed(m, ["get", "during/", "--prefix"]), during, "linearizable read on m\(m)")
        }

        // The cut-off member refuses what needs the leader, and serves only its local state.
        try assertRefuses(cluster, cut, ["put", "during/x", "lost"], .write)
        try assertRefuses(cluster, cut, ["get", "before"], .read)
        XCTAssertEqual(try cluster.succeed(cut, ["get", "", "--prefix", "--consistency=s"]), "before\nb\n",
                       "serializable read on the cut-off member: its own state, without the majority's writes")

        try cluster.reconnect(cut)
        let healedAt = Date()
        try cluster.poll("m\(cut) to serve the writes made while it was cut off", timeout: 20) {
            let r = try cluster.etcdctl(cut, ["get", "during/", "--prefix"])
            return r.exitCode == 0 && r.stdout == during ? true : nil
        }
        print("m\(cut) caught up \(seconds(since: healedAt)) after healing")
        try assertConverged(cluster, expecting: "before\nb\n" + during)
        print("isolated follower scenario took \(seconds(since: started))")
    }

    // MARK: 2. An isolated leader

    /// Proves: when the leader is cut off, the other two elect a new leader at a higher term and keep committing
    /// writes; the old leader notices within two election timeouts that it has lost its quorum and steps down
    /// (CheckQuorum: it checks every election timeout whether a quorum was active during the last one), so it
    /// refuses linearizable reads and writes instead of serving stale data; once healed it rejoins as a
    /// follower (its log lacks the new term's entries, so it cannot win) and every member converges on the
    /// same data and the same `hashkv`.
    func testIsolatedLeaderStepsDownAndRejoinsAsFollower() throws { try withCluster(isolatedLeader) }

    private func isolatedLeader(_ cluster: NetnsCluster) throws {
        let started = Date()
        let (oldLeader, oldTerm) = try cluster.awaitLeader(among: [0, 1, 2])
        let majority = [(oldLeader + 1) % 3, (oldLeader + 2) % 3]
        try cluster.succeed(oldLeader, ["put", "before", "b"])
        for m in majority { XCTAssertEqual(try cluster.succeed(m, ["get", "before", "--print-value-only"]), "b\n") }

        try cluster.isolate(oldLeader)
        let isolatedAt = Date()
        // Right away, before the old leader can know it is cut off: a write and a linearizable read sent to it.
        // The write cannot commit (no quorum hears of it) and the read cannot be confirmed (ReadIndex needs a
        // quorum's heartbeat acks), so both must fail, and the write must never show up anywhere.
        let earlyPut = cluster.etcdctlInBackground(oldLeader, ["put", "stale-leader-write", "must-not-commit"])
        let earlyGet = cluster.etcdctlInBackground(oldLeader, ["get", "before"])

        // Meanwhile the majority elects a new leader among itself, at a higher term, and both agree on it; the old
        // leader stops acting as leader on its own (CheckQuorum). Both are watched in one loop so the step-down
        // time is measured on its own.
        var stepDown: Double?
        var elected: (index: Int, term: UInt64)?
        try cluster.poll("the majority \(majority) to elect a new leader and the old leader m\(oldLeader) to step down", timeout: 10) {
            if stepDown == nil, try cluster.status(oldLeader).leader != cluster.memberID(oldLeader) {
                stepDown = Date().timeIntervalSince(isolatedAt)
            }
            if elected == nil {
                let statuses = try majority.map { try cluster.status($0) }
                if Set(statuses.map(\.leader)).count == 1, Set(statuses.map(\.raftTerm)).count == 1,
                   let lead = statuses.first?.leader, lead != 0, lead != cluster.memberID(oldLeader),
                   let index = cluster.memberIDs.firstIndex(of: lead) {
                    elected = (index, statuses[0].raftTerm)
                    print("majority elected m\(index) at term \(statuses[0].raftTerm) (was m\(oldLeader) at \(oldTerm)) \(seconds(since: isolatedAt)) after isolation")
                }
            }
            return stepDown != nil && elected != nil ? true : nil
        }
        let (newLeader, newTerm) = elected!
        XCTAssertTrue(majority.contains(newLeader))
        XCTAssertGreaterThan(newTerm, oldTerm)
        print("old leader m\(oldLeader) stepped down \(String(format: "%.2fs", stepDown!)) after isolation")
        // CheckQuorum runs every election timeout and looks at the one before, so 2 × election timeout is the
        // bound; 1 s more covers the etcdctl probes on a loaded 2-core machine.
        XCTAssertLessThan(stepDown!, 2 * Double(NetnsCluster.electionMs) / 1000 + 1.0, "CheckQuorum step-down took too long")

        for n in 0..<6 { try cluster.succeed(majority[n % 2], ["put", "during/\(n)", "v\(n)"]) }
        let during = (0..<6).map { "during/\($0)\nv\($0)\n" }.joined()
        for m in majority {
            XCTAssertEqual(try cluster.succeed(m, ["get", "during/", "--prefix"]), during, "linearizable read on m\(m)")
        }
        try assertRefuses(cluster, oldLeader, ["put", "during/x", "lost"], .write)
        try assertRefuses(cluster, oldLeader, ["get", "before"], .read)
        XCTAssertEqual(try cluster.succeed(oldLeader, ["get", "", "--prefix", "--consistency=s"]), "before\nb\n",
                       "serializable read on the old leader: its own state, without the new term's writes")
        // The write waits for a commit that cannot come and ends at the request timeout (5 s + 2 × election
        // timeout) with etcd's text, as in etcd; Keel retries the read's ReadIndex after an election timeout,
        // when the old leader has stepped down, and refuses it as any read on a member without a leader.
        for (what, command, errors) in [("write", earlyPut, Set(["Error: etcdserver: request timed out"])),
                                        ("linearizable read", earlyGet, Self.refusal(.read))] {
            let (r, took) = try command.wait()
            print("old leader m\(oldLeader), \(what) sent right after isolation -> \(r.status) \(r.etcdctlErrorLines) after \(String(format: "%.2fs", took))")
            XCTAssertNotEqual(r.exitCode, 0, "the isolated old leader accepted a \(what) it could not confirm: \(r)")
            XCTAssertEqual(r.stdout, "", "the isolated old leader answered a \(what): \(r)")
            XCTAssertTrue(r.etcdctlErrorLines.count == 1 && errors.contains(r.etcdctlErrorLines[0]),
                          "\(what) sent to the old leader right after isolation, expected one of \(errors): \(r)")
        }

        try cluster.reconnect(oldLeader)
        let healedAt = Date()
        let (leaderAfter, termAfter) = try cluster.awaitLeader(among: [0, 1, 2], timeout: 20)
        print("after healing all agree on m\(leaderAfter) at term \(termAfter), \(seconds(since: healedAt)) after healing")
        XCTAssertNotEqual(leaderAfter, oldLeader, "the old leader's log lacks the new term's entries: it cannot lead again")
        XCTAssertGreaterThanOrEqual(termAfter, newTerm)
        try assertConverged(cluster, expecting: "before\nb\n" + during)
        print("isolated leader scenario took \(seconds(since: started))")
    }

    // MARK: 3. One direction only

    /// Proves, for a fault in one direction only (messages lost from A to B while B to A still arrive):
    /// (a) leader → follower lost: the follower hears no heartbeats, loses its leader and refuses linearizable
    ///     requests, and campaigns at ever higher terms; its vote requests do reach the leader and the other
    ///     follower, which ignore them because they hear from a live leader (CheckQuorum's leader lease), so
    ///     for four election timeouts the leader and term do not change and every write commits through the
    ///     other two. After healing the follower catches up.
    /// (b) follower → leader lost: the follower still hears the leader (so it never campaigns) but its acks
    ///     are lost; the leader commits with the other follower alone; leader and term again do not move.
    /// After each heal every member converges (data and hashkv). The proxies' counters show each fault was
    /// one-way: bytes from A were dropped at B while bytes from B kept reaching A.
    func testOneWayFaultsKeepTheClusterServingAndConverge() throws {
        if ServerKind.subject == .etcd {
            // etcd's rafthttp sends A's messages to B mostly on streams that B dials to A (long-polled GETs),
            // so the proxy's cut, which follows Keel's transport (A→B on connections A dials), is not one-way there.
            throw XCTSkip("one-way cuts are defined by Keel's peer transport, not etcd's rafthttp")
        }
        try withCluster(oneWayFaults)
    }

    private func oneWayFaults(_ cluster: NetnsCluster) throws {
        let started = Date()
        var expected = ""
        var written = 0
        /// Writes through `members` in turn for `duration` seconds (at least 4 writes); each must succeed.
        func writeFor(_ duration: Double, through members: [Int]) throws {
            let until = Date().addingTimeInterval(duration)
            var n = 0
            while Date() < until || n < 4 {
                let key = String(format: "w/%04d", written)
                try cluster.succeed(members[n % members.count], ["put", key, "v\(written)"])
                expected += "\(key)\nv\(written)\n"
                written += 1
                n += 1
            }
        }

        // (a) leader → follower.
        let (leader, term) = try cluster.awaitLeader(among: [0, 1, 2])
        let follower = (leader + 1) % 3, other = (leader + 2) % 3
        try writeFor(0, through: [leader])
        let fromFollowerBefore = cluster.proxies[leader].forwardedBytes(from: FaultNetwork.peerAddress(follower))

        cluster.cutOneWay(from: leader, to: follower)
        let cutAt = Date()
        try cluster.poll("m\(follower) to lose its leader once the leader's messages stop arriving", timeout: 5) {
            try cluster.status(follower).leader == 0 ? true : nil
        }
        print("(a) m\(follower) lost its leader \(seconds(since: cutAt)) after the cut")
        try assertRefuses(cluster, follower, ["put", "x", "lost"], .write)
        try assertRefuses(cluster, follower, ["get", "w/", "--prefix"], .read)
        try writeFor(2 * Double(NetnsCluster.electionMs) / 1000 * 2, through: [leader, other])
        for m in [leader, other] {
            XCTAssertEqual(try cluster.succeed(m, ["get", "w/", "--prefix"]), expected, "linearizable read on m\(m)")
            let s = try cluster.status(m)
            XCTAssertEqual(s.leader, cluster.memberID(leader), "m\(m): the leader must not change during the fault")
            XCTAssertEqual(s.raftTerm, term, "m\(m): the term must not change during the fault")
        }
        // The follower did campaign at higher terms, and its vote requests did reach the leader (next check):
        // the leader and the other follower ignored them, or their terms would have moved.
        let followerTerm = try cluster.status(follower).raftTerm
        print("(a) follower term \(followerTerm) vs cluster term \(term) after \(seconds(since: cutAt)) of one-way fault")
        XCTAssertGreaterThan(followerTerm, term, "the cut-off follower campaigns (pre-vote is off)")
        XCTAssertGreaterThan(cluster.proxies[follower].droppedBytes(from: FaultNetwork.peerAddress(leader)), 0,
                             "the leader's messages to the follower were dropped")
        XCTAssertGreaterThan(cluster.proxies[leader].forwardedBytes(from: FaultNetwork.peerAddress(follower)), fromFollowerBefore,
                             "the follower's messages to the leader kept arriving (the fault was one-way)")

        cluster.restoreOneWay(from: leader, to: follower)
        let healedA = Date()
        try cluster.poll("m\(follower) to serve the writes made during the one-way fault", timeout: 20) {
            let r = try cluster.etcdctl(follower, ["get", "w/", "--prefix"])
            return r.exitCode == 0 && r.stdout == expected ? true : nil
        }
        print("(a) m\(follower) caught up \(seconds(since: healedA)) after healing")
        try assertConverged(cluster, expecting: expected)

        // (b) follower → leader, on whatever leadership (a) ended with.
        let (leaderB, termB) = try cluster.awaitLeader(among: [0, 1, 2])
        let followerB = (leaderB + 1) % 3, otherB = (leaderB + 2) % 3
        let fromLeaderBefore = cluster.proxies[followerB].forwardedBytes(from: FaultNetwork.peerAddress(leaderB))
        cluster.cutOneWay(from: followerB, to: leaderB)
        let cutB = Date()
        try writeFor(2 * Double(NetnsCluster.electionMs) / 1000 * 2, through: [leaderB, otherB])
        for m in [leaderB, otherB] {
            XCTAssertEqual(try cluster.succeed(m, ["get", "w/", "--prefix"]), expected, "linearizable read on m\(m)")
        }
        for m in 0..<3 {
            let s = try cluster.status(m)
            XCTAssertEqual(s.leader, cluster.memberID(leaderB), "m\(m): the leader must not change during the fault")
            XCTAssertEqual(s.raftTerm, termB, "m\(m): the term must not change (the follower still hears the leader)")
        }
        let followerView = try cluster.succeed(followerB, ["get", "w/", "--prefix", "--consistency=s", "--keys-only"])
        // (Appends carry the leader's commit index, so the follower applies even though its acks are lost.)
        print("(b) after \(seconds(since: cutB)) of follower → leader loss the follower applied "
              + "\(followerView.split(separator: "\n").count) of \(written) keys")
        XCTAssertGreaterThan(cluster.proxies[leaderB].droppedBytes(from: FaultNetwork.peerAddress(followerB)), 0,
                             "the follower's messages to the leader were dropped")
        XCTAssertGreaterThan(cluster.proxies[followerB].forwardedBytes(from: FaultNetwork.peerAddress(leaderB)), fromLeaderBefore,
                             "the leader's messages to the follower kept arriving (the fault was one-way)")

        cluster.restoreOneWay(from: followerB, to: leaderB)
        let healedB = Date()
        try cluster.poll("m\(followerB) to serve every write after the follower → leader fault", timeout: 20) {
            let r = try cluster.etcdctl(followerB, ["get", "w/", "--prefix"])
            return r.exitCode == 0 && r.stdout == expected ? true : nil
        }
        print("(b) m\(followerB) caught up \(seconds(since: healedB)) after healing")
        try assertConverged(cluster, expecting: expected)
        print("one-way scenario took \(seconds(since: started)), \(written) writes")
    }

    // MARK: Helpers

    /// A linearizable request to a member that cannot reach a quorum fails, with etcd's exact text.
    private func assertRefuses(_ cluster: NetnsCluster, _ i: Int, _ arguments: [String], _ kind: Refused,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let what = kind == .write ? "write" : "linearizable read"
        let started = Date()
        let r = try cluster.etcdctl(i, arguments)
        print("cut-off m\(i): etcdctl \(arguments.joined(separator: " ")) -> \(r.status) \(r.etcdctlErrorLines) in \(seconds(since: started))")
        XCTAssertNotEqual(r.exitCode, 0, "\(what) on cut-off m\(i) must fail: \(r)", file: file, line: line)
        XCTAssertTrue(r.etcdctlErrorLines.count == 1 && Self.refusal(kind).contains(r.etcdctlErrorLines[0]),
                      "\(what) on cut-off m\(i), expected one of \(Self.refusal(kind)): \(r)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "\(what) on cut-off m\(i) printed a result", file: file, line: line)
    }

    /// All members agree on a leader, answer a linearizable read of the whole keyspace with `expecting`,
    /// and report the same `hashkv` at the same revision.
    private func assertConverged(_ cluster: NetnsCluster, expecting: String, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try cluster.awaitLeader(among: [0, 1, 2], timeout: 20)
        for m in 0..<3 {
            try cluster.poll("m\(m) to hold every write", timeout: 20) {
                let r = try cluster.etcdctl(m, ["get", "", "--prefix"])
                return r.exitCode == 0 && r.stdout == expecting ? true : nil
            }
        }
        let hashes = try cluster.poll("equal hashkv on all members", timeout: 10) { () -> [Int: (hash: UInt32, revision: Int64)]? in
            let h = try cluster.hashKV([0, 1, 2])
            return Set(h.values.map(\.hash)).count == 1 && Set(h.values.map(\.revision)).count == 1 ? h : nil
        }
        XCTAssertNotEqual(hashes[0]?.hash, 0, file: file, line: line)
        print("converged: hashkv \(hashes[0]!.hash) at revision \(hashes[0]!.revision) on all members")
    }
}

private func seconds(since date: Date) -> String { String(format: "%.2fs", Date().timeIntervalSince(date)) }
