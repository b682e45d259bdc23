import Foundation
import Testing

/// PyPI's `etcd3gw`, a client that speaks only the JSON gateway, driven against etcd 3.4 and Keel; its
/// printed results must agree line for line (per-server ids aside).
@Suite struct GatewayClientTests {
    static func prelude(port: UInt16) -> String {
        """
        import json, sys
        import etcd3gw
        c = etcd3gw.client(host="127.0.0.1", port=\(port), timeout=10)
        def plain(v):
            if isinstance(v, bytes): return v.decode()
            if isinstance(v, (list, tuple)): return [plain(x) for x in v]
            if isinstance(v, dict): return {k: plain(x) for k, x in v.items() if k not in ("cluster_id", "member_id", "raft_term")}
            return v
        def out(v):
            sys.stdout.write(json.dumps(plain(v), sort_keys=True) + "\\n")

        """
    }

    private func compare(_ script: String, _ pair: SideBySide, sourceLocation: SourceLocation = #_sourceLocation) throws {
        func run(_ server: ServerProcess) throws -> CommandResult {
            try CommandRunner.run(ServerBinaries.python, ["-c", Self.prelude(port: server.ports.client) + script],
                                  environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]),
                                  timeoutSeconds: 30)
        }
        let expected = try run(pair.etcd)
        let actual = try run(pair.subject)
        #expect(expected.exitCode == 0, "etcd3gw against etcd failed: \(expected)", sourceLocation: sourceLocation)
        compareCommandResults(command: "etcd3gw script", expected: expected, actual: actual, json: true,
                              subjectLog: pair.subject.log, sourceLocation: sourceLocation)
    }

    @Test func putGetDeleteTxnAndWatch() throws {
        let pair = try SideBySide(label: "gw-etcd3gw")
        try compare("""
        out(c.put("k1", "v1"))
        out(c.put("k2", b"v2"))
        out(c.get("k1"))
        out(c.get("k1", metadata=True))
        out(c.get("missing"))
        out(c.get_prefix("k"))
        out(c.get_all())
        out(c.create("k1", "again"))
        out(c.create("k3", "v3"))
        out(c.replace("k3", "v3", "v3b"))
        out(c.replace("k3", "nope", "v3c"))
        out(c.transaction({"compare": [{"key": "azE=", "target": "VALUE", "result": "EQUAL", "value": "djE="}],
                           "success": [{"request_range": {"key": "azE="}}], "failure": []}))
        events, cancel = c.watch("w", prev_kv=True)
        c.put("w", "1")
        c.put("w", "2")
        out(next(events))
        out(next(events))
        cancel()
        events, cancel = c.watch_prefix("k")
        c.delete("k2")
        out(next(events))
        cancel()
        out(c.delete("k1"))
        out(c.delete("k1"))
        out(c.delete_prefix("k"))
        out(c.get_prefix("k"))
        out([m["name"] for m in c.members()])
        out(sorted(c.status().keys()))
        """, pair)
    }

    @Test func leases() throws {
        let pair = try SideBySide(label: "gw-etcd3gw-lease")
        try compare("""
        lease = c.lease(ttl=60)
        out(c.put("leased", "v", lease=lease))
        out(50 <= lease.ttl() <= 60)  # seconds left: the remaining time, whatever the machine's pace
        out(lease.refresh())
        out(lease.keys())
        out(c.get("leased", metadata=True)[0][1]["lease"] == str(lease.id))
        out(lease.revoke())
        out(c.get("leased"))
        out(c.lease(ttl=30).refresh())
        """, pair)
    }
}
