import Foundation
import Synchronization
import Testing

/// Auth in a 3-member cluster with TLS peers (mutual, allowed CN) and mutual client TLS: users, roles and tokens
/// are replicated state, so writers authenticated with `--user` keep going through a leader kill, every
/// acknowledged write is on every member afterwards, and the restarted member serves the same users.
/// `KEEL_INTEROP_SUBJECT=etcd` runs it against real etcd.
@Suite struct AuthClusterTests {
    @Test func threeMemberTLSClusterWithAuthSurvivesKillingTheLeader() throws {
        let certs = try TestCertificates()
        // The cluster's own etcdctl (status, leader lookups, checks) presents CN=root: root once auth is on.
        let security = KeelCluster.Security(
            peerTLS: true, clientTLS: true,
            serverFlags: ["--peer-cert-file", certs.cert("peer"), "--peer-key-file", certs.key("peer"),
                          "--peer-trusted-ca-file", certs.ca, "--peer-client-cert-auth", "--peer-cert-allowed-cn", "peer",
                          "--cert-file", certs.cert("server"), "--key-file", certs.key("server"),
                          "--trusted-ca-file", certs.ca, "--client-cert-auth"],
            etcdctlFlags: certs.etcdctlFlags("root"))
        let cluster = try KeelCluster(size: 3, security: security, kind: ServerKind.subject)
        defer { cluster.stopAll() }
        let admin = cluster.etcdctl(0)
        for command in [
            ["user", "add", "root", "--new-user-password=rootpw", "--interactive=false"],
            ["user", "add", "writer", "--new-user-password=wpw", "--interactive=false"],
            ["role", "add", "writers"],
            ["role", "grant-permission", "writers", "readwrite", "w/", "--prefix"],
            ["user", "grant-role", "writer", "writers"],
            ["auth", "enable"],
        ] { try admin.succeed(command) }

        let all = cluster.members.map(\.clientURL).joined(separator: ",")
        let writer = Etcdctl(endpoint: all, flags: certs.etcdctlFlags() + ["--user", "writer:wpw",
                                                                           "--dial-timeout", "2s", "--command-timeout", "3s"])
        let refused = try writer.run(["put", "x", "1"])
        #expect(refused.etcdctlErrorLines == ["Error: etcdserver: permission denied"], "\(refused)")

        // A token is cluster state (etcd proposes each Authenticate through Raft): one got from member 0 is
        // honoured by the other members, with the same user's permissions.
        let ports = cluster.members.map { $0.ports.client }
        let script = """
            import etcd3
            from etcd3 import etcdrpc
            def c(port, user=None, password=None, cert="client"):
                return etcd3.client(host="127.0.0.1", port=port, timeout=10, ca_cert="\(certs.ca)",
                                    cert_key="\(certs.directory)/" + cert + "-key.pem", cert_cert="\(certs.directory)/" + cert + ".pem",
                                    user=user, password=password)
            a = c(\(ports[0]), "writer", "wpw")
            for port in (\(ports[1]), \(ports[2])):
                c(port, cert="root").get("w/")  # linearizable: this member has applied the Authenticate entry
                b = c(port)
                r = b.kvstub.Range(etcdrpc.RangeRequest(key=b"w/", range_end=b"w0"), 10, metadata=a.metadata)
                try:
                    b.kvstub.Range(etcdrpc.RangeRequest(key=b"x"), 10, metadata=a.metadata)
                    print(r.count, "served")
                except Exception as e:
                    print(r.count, e.code(), e.details())
            """
        let shared = try CommandRunner.run(ServerBinaries.python, ["-c", script],
                                           environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]),
                                           timeoutSeconds: 30)
        #expect(shared.stdout == String(repeating: "0 StatusCode.PERMISSION_DENIED etcdserver: permission denied\n", count: 2),
                "a token from member 0 on members 1 and 2: \(shared)")

        let oldLeader = try cluster.awaitLeader()
        let log = WriteLog()
        let writers = DispatchGroup()
        for w in 0..<3 {
            DispatchQueue.global().async(group: writers) {
                var n = 0
                while !log.stopped.load(ordering: .relaxed) {
                    let key = "w/\(w)/\(String(format: "%05d", n))", value = "v\(n)"
                    if let result = try? writer.run(["put", key, value]), result.exitCode == 0 {
                        log.acked.withLock { $0[key] = value }
                    }
                    n += 1
                }
            }
        }
        defer {
            log.stopped.store(true, ordering: .relaxed)
            writers.wait()
        }
        func awaitAcked(_ count: Int) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if log.acked.withLock({ $0.count }) >= count { return true }
                Thread.sleep(forTimeInterval: 0.05)  // polling the writer threads' progress
            }
            return false
        }
        #expect(awaitAcked(15), "writes with --user over TLS were acknowledged before the kill")
        cluster.kill9(oldLeader)
        let newLeader = try cluster.awaitLeader(excluding: [oldLeader])
        #expect(newLeader != oldLeader)
        let atElection = log.acked.withLock { $0.count }
        #expect(awaitAcked(atElection + 15), "writes with --user were acknowledged after the new election")
        log.stopped.store(true, ordering: .relaxed)
        writers.wait()

        try cluster.restart(oldLeader)
        let written = log.acked.withLock { $0 }
        for i in cluster.members.indices {
            // Linearizable, as root by certificate CN: the restarted member answers once it caught up.
            let out = try cluster.etcdctl(i).succeed(["get", "w/", "--prefix"], json: true)
            let stored = try Self.keyValues(out)
            let missing = written.filter { stored[$0.key] != $0.value }
            #expect(missing.isEmpty, "member \(i) lacks \(missing.count) of \(written.count) acknowledged writes")
            // The users survived: writer authenticates against this member alone and is refused outside its role.
            let alone = Etcdctl(endpoint: cluster.members[i].clientURL, flags: certs.etcdctlFlags() + ["--user", "writer:wpw"])
            let read = try alone.run(["get", "w/", "--prefix", "--keys-only", "--limit", "1"], json: true)
            #expect(read.stdout.contains("\"count\":\(stored.count)"), "member \(i): \(read)")
            let outside = try alone.run(["get", "x"])
            #expect(outside.etcdctlErrorLines == ["Error: etcdserver: permission denied"], "member \(i): \(outside)")
        }
    }

    /// Users, roles, permissions and the enabled flag are in the snapshot a new member catches up from: it then
    /// authenticates the users and checks their permissions as the others do.
    @Test func aMemberCatchingUpBySnapshotKnowsTheUsers() throws {
        let cluster = try KeelCluster(size: 3, extraFlags: ["--snapshot-count", "40"],
                                      security: KeelCluster.Security(etcdctlFlags: ["--user", "root:rootpw"]),
                                      kind: ServerKind.subject)
        defer { cluster.stopAll() }
        let setup = Etcdctl(endpoint: cluster.members[0].endpoint)
        for command in [
            ["user", "add", "root", "--new-user-password=rootpw", "--interactive=false"],
            ["user", "add", "alice", "--new-user-password=apw", "--interactive=false"],
            ["role", "add", "rw"],
            ["role", "grant-permission", "rw", "readwrite", "grow/", "--prefix"],
            ["user", "grant-role", "alice", "rw"],
            ["auth", "enable"],
        ] { try setup.succeed(command) }
        // 100 entries after the auth ones, written with one token: the log is compacted past them.
        let leader = try cluster.awaitLeader()
        let writes = try CommandRunner.run(ServerBinaries.python, ["-c", """
            import etcd3
            from etcd3 import etcdrpc
            a = etcd3.client(host="127.0.0.1", port=\(cluster.members[leader].ports.client), timeout=10, user="alice", password="apw")
            for i in range(100):  # the token as plain metadata: grpc sends call credentials only over TLS
                a.kvstub.Put(etcdrpc.PutRequest(key=b"grow/%d" % i, value=b"v%d" % i), 10, metadata=a.metadata)
            """], environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]), timeoutSeconds: 30)
        #expect(writes.exitCode == 0, "\(writes)")

        // etcd adds a voter only once every member has been connected for 5 s ("unhealthy cluster" before).
        var added: Int?
        let deadline = Date().addingTimeInterval(15)
        while added == nil {
            do {
                added = try cluster.addMember(name: "m3", learner: false, via: leader)
            } catch let error where "\(error)".contains("etcdserver: unhealthy cluster") && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)  // polling the cluster's health through etcdctl
            }
        }
        let joined = added!
        let log = cluster.members[joined].process!.log
        #expect(log.contains("applied incoming snapshot"), "the new member caught up by snapshot:\n\(log)")
        let alice = Etcdctl(endpoint: cluster.members[joined].endpoint, flags: ["--user", "alice:apw"])
        #expect(try alice.succeed(["get", "grow/99", "--consistency=s", "--print-value-only"]) == "v99\n")
        let outside = try alice.run(["get", "x", "--consistency=s"])
        #expect(outside.etcdctlErrorLines == ["Error: etcdserver: permission denied"], "\(outside)")
        let anonymous = try Etcdctl(endpoint: cluster.members[joined].endpoint).run(["get", "grow/1", "--consistency=s"])
        #expect(anonymous.etcdctlErrorLines == ["Error: etcdserver: user name is empty"], "\(anonymous)")
        #expect(try cluster.etcdctl(joined).succeed(["role", "get", "rw"]) == "Role rw\nKV Read:\n\t[grow/, grow0) (prefix grow/)\nKV Write:\n\t[grow/, grow0) (prefix grow/)\n")
        let wrong = try Etcdctl(endpoint: cluster.members[joined].endpoint, flags: ["--user", "alice:nope"]).run(["get", "grow/1"])
        #expect(wrong.etcdctlErrorLines == ["Error: etcdserver: authentication failed, invalid user ID or password"], "\(wrong)")
    }

    /// What the writer threads share with the test: acknowledged writes, and when to stop.
    final class WriteLog: Sendable {
        let acked = Mutex<[String: String]>([:])
        let stopped = Atomic<Bool>(false)
    }

    /// `get -w json` output as key → value (base64-decoded).
    static func keyValues(_ json: String) throws -> [String: String] {
        guard let object = try JSONComparison.parse(json) as? [String: Any] else { throw HarnessError.badOutput(json) }
        var result: [String: String] = [:]
        for kv in object["kvs"] as? [[String: Any]] ?? [] {
            func decoded(_ field: String) -> String {
                (kv[field] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
            result[decoded("key")] = decoded("value")
        }
        return result
    }
}
