import Foundation
import Testing

/// etcd's Lease service through real clients, side by side with real etcd 3.4 where answers are
/// deterministic (lease ids the server picks and remaining seconds are normalised), and the clock
/// measured where it is the subject: a lease ends after its TTL, not before and not much after,
/// keep-alives keep it, and its keys go in one revision that watchers see.
@Suite struct LeaseInteropTests {
    /// `lease grant` prints a server-chosen id; remaining seconds depend on when the command ran.
    private static func normalised(_ text: String, ids: [String]) -> String {
        var out = text
        for (i, id) in ids.enumerated() {
            out = out.replacingOccurrences(of: id, with: "<lease\(i)>")
            if let decimal = Int64(id, radix: 16) { out = out.replacingOccurrences(of: "\(decimal)", with: "<lease\(i)>") }
        }
        out = out.replacingOccurrences(of: #"remaining\(\d+s\)"#, with: "remaining(?)", options: .regularExpression)
        // etcd lists a lease's keys in Go map order (random): compare them as a set.
        guard let open = out.range(of: "attached keys(["), let close = out.range(of: "])", range: open.upperBound..<out.endIndex) else {
            return out
        }
        let keys = out[open.upperBound..<close.lowerBound].split(separator: " ").sorted().joined(separator: " ")
        return out.replacingCharacters(in: open.upperBound..<close.lowerBound, with: keys)
    }

    private static func leaseID(_ grantOutput: String) throws -> String {
        // "lease 694d7a1b2c3d4e5f granted with TTL(30s)"
        let words = grantOutput.split(separator: " ")
        guard words.count >= 2, words[0] == "lease" else { throw HarnessError.badOutput("lease grant printed: \(grantOutput)") }
        return String(words[1])
    }

    @Test func etcdctlLeaseCommandsAnswerAsEtcdDoes() throws {
        let pair = try SideBySide(label: "lease-etcdctl")
        func sequence(_ server: ServerProcess) throws -> [String] {
            let ctl = Etcdctl(server)
            var outputs: [String] = []
            var ids: [String] = []
            func run(_ args: [String]) throws {
                let r = try ctl.run(args)
                outputs.append("\(args.joined(separator: " ")) -> \(r.exitCode ?? -1): \(r.stdout) \(r.etcdctlErrorLines)")
            }
            let first = try ctl.succeed(["lease", "grant", "30"])
            ids.append(try Self.leaseID(first))
            outputs.append(first)
            let second = try ctl.succeed(["lease", "grant", "1"])  // below the minimum TTL: raised to it
            ids.append(try Self.leaseID(second))
            outputs.append(second)
            try run(["put", "--lease=\(ids[0])", "lk/a", "1"])
            try run(["put", "--lease=\(ids[0])", "lk/b", "2"])
            try run(["put", "--lease=\(ids[1])", "lk/c", "3"])
            try run(["put", "--lease=\(ids[1])", "lk/c", "4"])  // moves nothing: same lease
            try run(["put", "--lease=\(ids[0])", "lk/c", "5"])  // moves lk/c to the first lease
            try run(["lease", "timetolive", ids[0], "--keys"])
            try run(["lease", "timetolive", ids[1], "--keys"])
            try run(["lease", "keep-alive", "--once", ids[0]])
            try run(["lease", "grant", "9000000001"])
            try run(["put", "--lease=1234abcd", "lk/x", "y"])
            try run(["put", "--ignore-lease", "lk/a", "1b"])
            try run(["get", "lk/a", "-w", "json"])
            try run(["lease", "revoke", "1234abcd"])
            try run(["lease", "timetolive", "1234abcd"])
            try run(["lease", "keep-alive", "--once", "1234abcd"])
            try run(["lease", "revoke", ids[0]])
            try run(["get", "lk/", "--prefix"])
            try run(["lease", "timetolive", ids[0]])
            let listed = try ctl.succeed(["lease", "list"])
            outputs.append(listed)
            return outputs.map { Self.normalised($0, ids: ids) }
                .map { $0.replacingOccurrences(of: #""(cluster_id|member_id|raft_term|revision)":\d+"#, with: "", options: .regularExpression) }
        }
        let expected = try sequence(pair.etcd)
        let actual = try sequence(pair.subject)
        #expect(expected.count == actual.count)
        for (e, a) in zip(expected, actual) { #expect(e == a, "etcd: \(e)\nkeel: \(a)") }
    }

    @Test func python3Etcd3LeasesAnswerAsEtcdDoes() throws {
        let pair = try SideBySide(label: "lease-python")
        try pair.python("""
            def err(f):
                try:
                    f()
                    return None
                except Exception as e:
                    return type(e).__name__
            l = c.lease(30, lease_id=0x1234)
            out({"id": l.id, "ttl": l.ttl})
            c.put("lk/a", "1", lease=l)
            c.put("lk/b", "2", lease=0x1234)
            info = c.get_lease_info(0x1234)
            out({"granted": info.grantedTTL, "keys": sorted(k.decode() for k in info.keys), "ttl_ok": 28 <= info.TTL <= 30})
            out([[r.ID, r.TTL] for r in l.refresh()])
            out(kv(c.get("lk/a")[1]))
            out(err(lambda: c.lease(5, lease_id=0x1234)))
            out(err(lambda: c.put("lk/x", "y", lease=0x999)))
            out([[r.ID, r.TTL] for r in c.refresh_lease(0x999)])
            l.revoke()
            out(c.get("lk/a")[0] is None and c.get("lk/b")[0] is None)
            out(c.get_lease_info(0x1234).TTL)
            out(err(lambda: c.revoke_lease(0x1234)))
            first = c.lock("pylock", ttl=5)
            out(first.acquire(timeout=2))
            second = c.lock("pylock", ttl=5)
            out(err(lambda: second.acquire(timeout=0.5)))
            out(first.is_acquired())
            first.release()
            out(second.acquire(timeout=3))
            second.release()
            out(first.is_acquired() or second.is_acquired())
            """)
    }

    /// A 2 s lease with keys is gone about 2 s after it was granted (never before; the bound after it
    /// leaves room for a CI machine running every suite at once: exactness to the heartbeat is
    /// LeaseScheduleTests' job, on an explicit clock), and its keys go in one revision, which a watcher
    /// sees as one response.
    @Test func leaseExpiresOnTimeAndItsKeysGoInOneRevision() throws {
        let scratch = try ScratchDirectory(label: "lease-expiry")
        let server = try ServerProcess.start(.subject, dataDir: scratch.child("data"))
        defer { server.kill9() }
        let ctl = Etcdctl(server)
        let watch = try WatchProcess(server, ["ex/", "--prefix"], json: true)
        defer { _ = watch.stop() }
        // Established once it prints a probe (written until it does: the watch may start after a write).
        var established = false
        for _ in 0..<50 where !established {
            try ctl.succeed(["put", "ex/probe", "x"])
            established = watch.waitForStdout(containing: "ZXgvcHJvYmU=", timeoutSeconds: 0.2)  // ex/probe
        }
        #expect(established, "watch never started: \(watch.stderr)")
        let start = Date()
        let id = try Self.leaseID(try ctl.succeed(["lease", "grant", "2"]))
        for k in ["ex/c", "ex/a", "ex/b"] { try ctl.succeed(["put", "--lease=\(id)", k, "v"]) }
        // Wait for the delete events (output is the clock here, with a generous deadline).
        let seen = watch.waitFor(timeoutSeconds: 10) { stdout, _ in stdout.components(separatedBy: "\"type\":1").count - 1 >= 3 }
        let elapsed = Date().timeIntervalSince(start)
        #expect(seen, "keys never deleted: \(watch.stdout)")
        #expect(elapsed >= 2.0 && elapsed < 4.0, "expired after \(elapsed) s")
        // One watch response holds the three deletions, in key order, at one revision.
        let deletes = watch.stdout.split(separator: "\n").filter { $0.contains("\"type\":1") }
        #expect(deletes.count == 1, "deletions spread over responses: \(deletes)")
        let keys = try #require(deletes.first).components(separatedBy: "\"key\":\"").dropFirst().map { String($0.prefix(while: { $0 != "\"" })) }
        #expect(keys == ["ZXgvYQ==", "ZXgvYg==", "ZXgvYw=="])  // ex/a, ex/b, ex/c
        #expect(try ctl.succeed(["get", "ex/", "--prefix", "--keys-only"]) == "ex/probe\n\n")
        #expect(try ctl.succeed(["lease", "timetolive", id]).contains("already expired"))
    }

    @Test func keepAlivesKeepALeaseAndItEndsOnceTheyStop() throws {
        let scratch = try ScratchDirectory(label: "lease-keepalive")
        let server = try ServerProcess.start(.subject, dataDir: scratch.child("data"))
        defer { server.kill9() }
        let ctl = Etcdctl(server)
        let id = try Self.leaseID(try ctl.succeed(["lease", "grant", "2"]))
        try ctl.succeed(["put", "--lease=\(id)", "ka", "v"])
        let keeper = try WatchProcess(endpoint: server.endpoint, ["lease", "keep-alive", id])
        #expect(keeper.waitForStdout(containing: "keepalived with TTL(2)"), "\(keeper.stderr)")
        // Twice the TTL later the key is still there.
        let until = Date().addingTimeInterval(4)
        while Date() < until {
            #expect(try ctl.succeed(["get", "ka", "--print-value-only"]) == "v\n")
            Thread.sleep(forTimeInterval: 0.25)  // polling the server while time passes
        }
        _ = keeper.stop()
        let stopped = Date()
        var gone: TimeInterval?
        while Date().timeIntervalSince(stopped) < 6 {
            if try ctl.succeed(["get", "ka"]).isEmpty { gone = Date().timeIntervalSince(stopped); break }
            Thread.sleep(forTimeInterval: 0.05)  // polling the server
        }
        let after = try #require(gone, "the lease outlived its keep-alives" as Comment)
        // The last keep-alive came at most TTL/3 before the stop; the lease ends within its TTL after it.
        #expect(after > 0.5 && after < 4.0, "gone \(after) s after the keep-alives stopped")
    }

    /// `etcdctl elect`: the first candidate leads, an observer sees it, and when it quits (resigning) the
    /// waiting candidate leads and the observer sees the change.
    @Test func etcdctlElectHandsOverWhenTheLeaderQuits() throws {
        let scratch = try ScratchDirectory(label: "lease-elect")
        let server = try ServerProcess.start(.subject, dataDir: scratch.child("data"))
        defer { server.kill9() }
        let alice = try WatchProcess(endpoint: server.endpoint, ["elect", "the-election", "alice"])
        defer { _ = alice.stop() }
        #expect(alice.waitForStdout(containing: "alice"), "\(alice.stderr)")
        let observer = try WatchProcess(endpoint: server.endpoint, ["elect", "-l", "the-election"])
        defer { _ = observer.stop() }
        #expect(observer.waitForStdout(containing: "alice"), "\(observer.stderr)")
        let bob = try WatchProcess(endpoint: server.endpoint, ["elect", "the-election", "bob"])
        defer { _ = bob.stop() }
        // bob campaigns (his key appears) but does not lead while alice does.
        let ctl = Etcdctl(server)
        let deadline = Date().addingTimeInterval(10)
        while try ctl.succeed(["get", "the-election/", "--prefix", "--keys-only"]).split(separator: "\n").count < 2 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)  // polling the server for bob's key
        }
        #expect(!bob.stdout.contains("bob"))
        alice.interrupt()
        #expect(bob.waitForStdout(containing: "bob"), "\(bob.stderr)")
        #expect(observer.waitForStdout(containing: "bob"), "\(observer.stdout)")
        #expect(observer.stdout.components(separatedBy: "\n").filter { $0 == "alice" || $0 == "bob" } == ["alice", "bob"])
    }

    /// Leases and their keys are in the backend: a restart (clean, then kill -9) keeps them, and a short
    /// lease still ends after it.
    @Test func leasesSurviveRestarts() throws {
        let scratch = try ScratchDirectory(label: "lease-restart")
        let first = try ServerProcess.start(.subject, dataDir: scratch.child("data"))
        var ctl = Etcdctl(first)
        let long = try Self.leaseID(try ctl.succeed(["lease", "grant", "300"]))
        let short = try Self.leaseID(try ctl.succeed(["lease", "grant", "4"]))
        try ctl.succeed(["put", "--lease=\(long)", "rs/long", "v"])
        try ctl.succeed(["put", "--lease=\(short)", "rs/short", "v"])
        _ = first.stop()
        let second = try ServerProcess.start(.subject, dataDir: first.dataDir, ports: first.ports)
        ctl = Etcdctl(second)
        #expect(Set(try ctl.succeed(["lease", "list"]).split(separator: "\n").dropFirst().map(String.init)) == [long, short])
        #expect(try ctl.succeed(["lease", "timetolive", long, "--keys"]).contains("attached keys([rs/long])"))
        _ = second.kill9()
        let third = try ServerProcess.start(.subject, dataDir: first.dataDir, ports: first.ports)
        defer { third.kill9() }
        ctl = Etcdctl(third)
        #expect(try ctl.succeed(["lease", "timetolive", long, "--keys"]).contains("attached keys([rs/long])"))
        // The short lease ends (within its TTL of the restart, since no checkpoint was taken) with its key.
        let deadline = Date().addingTimeInterval(8)
        while try !ctl.succeed(["get", "rs/short"]).isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)  // polling the server while time passes
        }
        #expect(try ctl.succeed(["get", "rs/", "--prefix", "--keys-only"]) == "rs/long\n\n")
        try ctl.succeed(["lease", "revoke", long])
        #expect(try ctl.succeed(["get", "rs/", "--prefix"]).isEmpty)
    }
}
