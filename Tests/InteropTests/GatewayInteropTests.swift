import Foundation
import Testing

/// The JSON gateway side by side with real etcd 3.4's: the same curl requests, in the same order, to both;
/// statuses and JSON bodies must agree (per-server ids aside).
@Suite struct GatewayInteropTests {
    /// Services Keel does not have yet: until one is registered, its routes must answer etcd's 404 "Not Found";
    /// once it is, they are compared with etcd like every other route. Remove an entry when its service lands
    /// so that a missing service fails here.
    static let pendingServices = ["/v3/maintenance/defragment", "/v3/maintenance/snapshot"]

    enum Expect {
        /// Same status, same JSON (minus `ignoring`).
        case same(ignoring: Set<String> = [])
        /// Same status and gRPC code; the message is Go's encoding/json text on etcd's side and ours here.
        case sameCode
        /// Byte-for-byte the same body (plain-text answers of the mux).
        case sameText
    }

    struct Step {
        let path: String
        let body: String
        var method: String? = nil
        var expect: Expect = .same()
        /// Guards against vacuous agreement (a typo'd path answering 404 on both).
        var etcdStatus: Int = 200
    }

    private func run(_ steps: [Step], on pair: SideBySide, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for step in steps {
            let label = "\(step.method ?? "POST") \(step.path) \(step.body.prefix(120))"
            let expected = try Curl.post(pair.etcd.clientURL + step.path, step.body, method: step.method)
            let actual = try Curl.post(pair.subject.clientURL + step.path, step.body, method: step.method)
            #expect(expected.status == step.etcdStatus, "\(label): etcd answered \(expected)", sourceLocation: sourceLocation)
            // The mux's plain-text 404: no service behind the route (yet).
            if Self.pendingServices.contains(where: { step.path.hasPrefix($0) }), actual.status == 404,
               actual.body == "Not Found\n" {
                continue
            }
            #expect(actual.status == expected.status, "\(label): etcd \(expected)\n keel \(actual)", sourceLocation: sourceLocation)
            switch step.expect {
            case .sameText:
                #expect(actual.body == expected.body, "\(label): etcd \(expected)\n keel \(actual)", sourceLocation: sourceLocation)
            case .sameCode:
                let e = try JSONComparison.parse(expected.body) as? [String: Any]
                let a = try JSONComparison.parse(actual.body) as? [String: Any]
                #expect(a?["code"] as? NSNumber == e?["code"] as? NSNumber && e?["code"] != nil,
                        "\(label): etcd \(expected)\n keel \(actual)", sourceLocation: sourceLocation)
                #expect((a?["error"] as? String)?.isEmpty == false && a?["error"] as? String == a?["message"] as? String,
                        "\(label): keel \(actual)", sourceLocation: sourceLocation)
            case .same(let ignoring):
                let differences = JSONComparison.differences(
                    expected: try JSONComparison.parse(expected.body), actual: try JSONComparison.parse(actual.body),
                    ignoring: JSONComparison.perServerFields.union(ignoring))
                #expect(differences.isEmpty, "\(label): \(differences)\n etcd \(expected)\n keel \(actual)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    @Test func kvRoutesMatchEtcd() throws {
        let pair = try SideBySide(label: "gw-kv")
        // foo, foo2, fop are "Zm9v", "Zm9vMg==", "Zm9w"; bar "YmFy", baz "YmF6"; a "YQ==", 1 "MQ==".
        try run([
            Step(path: "/v3/kv/put", body: #"{"key":"Zm9v","value":"YmFy"}"#),
            Step(path: "/v3/kv/put", body: #"{"key":"Zm9vMg==","value":"YmF6","prev_kv":true}"#),
            Step(path: "/v3/kv/put", body: #"{"key":"Zm9v","value":"YmF6","prevKv":true}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v"}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","range_end":"Zm9w"}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","range_end":"Zm9w","serializable":true,"limit":"1"}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","range_end":"Zm9w","keys_only":true,"sort_order":"DESCEND","sort_target":"KEY"}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","range_end":"Zm9w","count_only":true}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","revision":2}"#),
            Step(path: "/v3beta/kv/range", body: #"{"key":"Zm9v"}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","unknown_field":{"x":[1,2]}}"#),
            // Patroni's compares: CREATE (create_revision 0 = absent) and MOD.
            Step(path: "/v3/kv/txn", body: #"{"compare":[{"target":"CREATE","key":"YQ==","create_revision":0}],"success":[{"request_put":{"key":"YQ==","value":"MQ=="}}],"failure":[{"request_range":{"key":"YQ=="}}]}"#),
            Step(path: "/v3/kv/txn", body: #"{"compare":[{"target":"CREATE","key":"YQ==","create_revision":0}],"success":[{"request_put":{"key":"YQ==","value":"MQ=="}}],"failure":[{"request_range":{"key":"YQ=="}}]}"#),
            Step(path: "/v3/kv/txn", body: #"{"compare":[{"target":"MOD","key":"Zm9v","mod_revision":"4","result":"EQUAL"}],"success":[{"request_delete_range":{"key":"Zm9vMg==","prev_kv":true}}]}"#),
            Step(path: "/v3/kv/txn", body: #"{"compare":[{"target":"VALUE","key":"Zm9v","value":"YmF6"}],"success":[{"requestTxn":{"success":[{"request_range":{"key":"Zm9v"}}]}}]}"#),
            Step(path: "/v3/kv/deleterange", body: #"{"key":"Zm9v","range_end":"Zm9w","prev_kv":true}"#),
            Step(path: "/v3/kv/compaction", body: #"{"revision":"3","physical":true}"#),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","revision":2}"#, etcdStatus: 400),
            Step(path: "/v3/kv/compaction", body: #"{"revision":"3"}"#, etcdStatus: 400),
            Step(path: "/v3/kv/compaction", body: #"{"revision":"100"}"#, etcdStatus: 400),
            Step(path: "/v3/kv/put", body: #"{"key":""}"#, etcdStatus: 400),
            Step(path: "/v3/kv/put", body: #"{"key":"YQ==","lease":"12345"}"#, etcdStatus: 404),
            Step(path: "/v3/kv/range", body: "", etcdStatus: 400),
        ], on: pair)
    }

    @Test func malformedRequestsAnswerLikeEtcd() throws {
        let pair = try SideBySide(label: "gw-errors")
        try run([
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: #"{"key":"!!!"}"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: #"{"key":5}"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","revision":"abc"}"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","limit":1.5}"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: #"{"key":"Zm9v","sort_order":"BOGUS"}"#, expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/range", body: "[1]", expect: .sameCode, etcdStatus: 400),
            Step(path: "/v3/kv/txn", body: #"{"success":[{"request_put":{"key":"YQ==","value":7}}]}"#, expect: .sameCode, etcdStatus: 400),
            // A watch whose first request does not decode fails as Unknown (500) in grpc-gateway's stream code.
            Step(path: "/v3/watch", body: #"{"create_request":{"key":5}}"#, expect: .sameCode, etcdStatus: 500),
            Step(path: "/v3/kv/nothing", body: "{}", expect: .sameText, etcdStatus: 404),
            Step(path: "/v3/kv/range", body: "", method: "GET", expect: .sameText, etcdStatus: 405),
            // Larger than the gRPC receive limit (2 MiB): ResourceExhausted, in grpc-go's words and sizes.
            Step(path: "/v3/kv/put", body: #"{"key":"YQ==","value":""# + String(repeating: "QUFB", count: 750_000) + #""}"#,
                 etcdStatus: 429),
        ], on: pair)
        // The server survived all of it.
        let after = try Curl.post(pair.subject.clientURL + "/v3/kv/range", #"{"key":"YQ=="}"#)
        #expect(after.status == 200, "\(after)")
    }

    @Test func clusterAndMaintenanceRoutesMatchEtcd() throws {
        let pair = try SideBySide(label: "gw-cluster")
        let urls: Set<String> = ["ID", "peerURLs", "clientURLs"]
        let status: Set<String> = ["version", "dbSize", "dbSizeInUse", "leader", "raftIndex", "raftTerm", "raftAppliedIndex"]
        try run([
            Step(path: "/v3/cluster/member/list", body: "{}", expect: .same(ignoring: urls)),
            Step(path: "/v3/cluster/member/remove", body: #"{"ID":"1234"}"#, etcdStatus: 404),
            Step(path: "/v3/cluster/member/update", body: #"{"ID":"1234","peerURLs":["http://127.0.0.1:1"]}"#, etcdStatus: 404),
            Step(path: "/v3/cluster/member/promote", body: #"{"ID":"1234"}"#, etcdStatus: 404),
            Step(path: "/v3/cluster/member/add", body: #"{"peerURLs":["bad url"]}"#, etcdStatus: 400),
            Step(path: "/v3/maintenance/status", body: "{}", expect: .same(ignoring: status)),
            Step(path: "/v3/maintenance/alarm", body: #"{"action":"GET"}"#),
            Step(path: "/v3/maintenance/hash", body: "{}", expect: .same(ignoring: ["hash"])),
            Step(path: "/v3/maintenance/transfer-leadership", body: #"{"targetID":"1234"}"#, etcdStatus: 412),
            Step(path: "/v3/maintenance/defragment", body: "{}"),
            Step(path: "/v3/auth/user/list", body: "{}"),
            Step(path: "/v3/auth/role/list", body: "{}"),
        ], on: pair)
    }

    @Test func leaseLockAndElectionRoutesMatchEtcd() throws {
        let pair = try SideBySide(label: "gw-lease")
        // Lease ids chosen by the client, so both servers hold the same ones; lock and election keys embed a
        // lease id in hex and differ.
        let keyed: Set<String> = ["key", "lease", "ID"]
        try run([
            Step(path: "/v3/lease/grant", body: #"{"TTL":60,"ID":4242}"#),
            Step(path: "/v3/lease/grant", body: #"{"TTL":60,"ID":4242}"#, etcdStatus: 412),
            Step(path: "/v3/kv/put", body: #"{"key":"bGVhc2Vk","value":"dg==","lease":"4242"}"#),
            Step(path: "/v3/lease/timetolive", body: #"{"ID":4242,"keys":true}"#, expect: .same(ignoring: ["TTL"])),
            Step(path: "/v3/kv/lease/timetolive", body: #"{"ID":4242}"#, expect: .same(ignoring: ["TTL"])),
            Step(path: "/v3/lease/leases", body: "{}"),
            Step(path: "/v3/kv/lease/leases", body: "{}"),
            Step(path: "/v3/lease/keepalive", body: #"{"ID":4242}"#),
            // Keepalive of an unknown lease: 200 without a TTL.
            Step(path: "/v3/lease/keepalive", body: #"{"ID":999}"#),
            Step(path: "/v3/lease/revoke", body: #"{"ID":4242}"#),
            Step(path: "/v3/kv/lease/revoke", body: #"{"ID":4242}"#, etcdStatus: 404),
            Step(path: "/v3/kv/range", body: #"{"key":"bGVhc2Vk"}"#),
            Step(path: "/v3/lease/grant", body: #"{"TTL":60,"ID":77}"#),
            Step(path: "/v3/lock/lock", body: #"{"name":"bG9jaw==","lease":"77"}"#, expect: .same(ignoring: keyed)),
            Step(path: "/v3/election/campaign", body: #"{"name":"ZWw=","value":"dg==","lease":"77"}"#, expect: .same(ignoring: keyed)),
            Step(path: "/v3/election/leader", body: #"{"name":"ZWw="}"#, expect: .same(ignoring: keyed)),
            Step(path: "/v3/election/leader", body: #"{"name":"bm9uZQ=="}"#, etcdStatus: 500),
        ], on: pair)
    }
}
