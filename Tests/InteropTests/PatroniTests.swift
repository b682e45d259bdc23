import Foundation
import Testing

/// A two-node Patroni + PostgreSQL cluster using the store (through its JSON gateway, all Patroni speaks) for
/// leader election: one primary and one streaming replica, then kill -9 of the primary's machine (Patroni and
/// postmaster) and the replica promoted once the leader key's lease runs out. About 40 s per store; CI runs
/// Keel only (the same test passes on etcd 3.4: add `.etcd` to the arguments to check the harness).
@Suite(.serialized) struct PatroniTests {
    enum Store: String, CaseIterable, Sendable { case etcd, keel }

    @Test(arguments: [Store.keel])
    func twoNodeClusterFailsOverAfterKill9(_ store: Store) throws {
        try #require(PatroniCluster.available, "patroni and postgresql are installed by scripts/install-deps.sh --test")
        let scratch = try ScratchDirectory(label: "patroni-store")
        let server = try ServerProcess.start(store == .etcd ? .etcd : ServerKind.subject, dataDir: scratch.child("data"))
        let cluster = try PatroniCluster(store: server)

        let first = try cluster.start("node1")
        #expect(cluster.poll(60) { cluster.role(first, "primary") }, "node1 never became primary\n\(cluster.transcript)")
        let second = try cluster.start("node2")
        #expect(cluster.poll(60) { cluster.role(second, "replica") }, "node2 never replicated\n\(cluster.transcript)")

        let created = try cluster.sql(first, "create table t(x int); insert into t values (42);")
        #expect(created.exitCode == 0, "\(created)")
        #expect(try cluster.poll(20) { try cluster.sql(second, "select x from t").stdout == "42\n" },
                "row never reached the replica\n\(cluster.transcript)")
        let leaderKey = "/service/\(PatroniCluster.scope)/leader"
        #expect(try leader(server, leaderKey) == "node1")

        cluster.kill9(first)
        #expect(cluster.poll(60) { cluster.role(second, "primary") }, "node2 never took over\n\(cluster.transcript)")
        #expect(try leader(server, leaderKey) == "node2")
        // Patroni reports the new role as soon as it asks PostgreSQL to promote; writes wait for the end of recovery.
        #expect(try cluster.poll(30) { try cluster.sql(second, "select pg_is_in_recovery()").stdout == "f\n" },
                "node2 stayed in recovery\n\(cluster.transcript)")
        let written = try cluster.sql(second, "insert into t values (43); select count(*) from t;")
        #expect(written.stdout == "2\n", "\(written)\n\(cluster.transcript)")
    }

    /// The leader key's value, read over the gateway.
    private func leader(_ server: ServerProcess, _ key: String) throws -> String? {
        let answer = try Curl.post(server.clientURL + "/v3/kv/range", #"{"key":"\#(Data(key.utf8).base64EncodedString())"}"#)
        let json = try JSONComparison.parse(answer.body) as? [String: Any]
        let value = ((json?["kvs"] as? [[String: Any]])?.first?["value"] as? String).flatMap { Data(base64Encoded: $0) }
        return value.map { String(decoding: $0, as: UTF8.self) }
    }
}
