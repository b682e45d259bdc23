import Testing

/// `etcdctl txn` reads compares, then success ops, then failure ops from stdin, each block ended
/// by an empty line (etcdctl/ctlv3/command/txn_command.go).
@Suite struct EtcdctlTxnTests {
    private static func script(compares: [String], success: [String], failure: [String]) -> String {
        [compares, success, failure].map { $0.map { $0 + "\n" }.joined() + "\n" }.joined()
    }

    @Test func txnBranchesMatchEtcd() throws {
        let pair = try SideBySide(label: "txn")
        try pair.seed()
        let cases: [(compares: [String], success: [String], failure: [String])] = [
            (["value(\"a\") = \"11\""], ["put a 12", "get a", "del zz"], ["put failed 1"]),
            (["value(\"a\") = \"nope\""], ["put never 1"], ["get a", "get b --prefix", "put f x"]),
            (["mod(\"a\") > \"3\"", "create(\"a\") < \"3\""], ["get a --rev 6"], ["put x 1"]),
            (["version(\"b\") != \"1\""], ["put y 1"], ["del b2 --prev-kv"]),
            (["create(\"missing\") = \"0\""], ["put missing created", "get missing"], []),
            (["mod(\"a\") = \"1\""], [], ["get \"\" --from-key --keys-only"]),
            ([], ["put empty-compare ok"], []),  // no compares: always succeeds
            (["value(\"b\") > \"1\"", "value(\"b\") < \"3\""], ["get b", "del b --prev-kv"], []),
        ]
        for item in cases {
            try pair.etcdctl(["txn"], stdin: Self.script(compares: item.compares, success: item.success, failure: item.failure))
        }
        try pair.etcdctl(
            ["txn"], json: false,
            stdin: Self.script(compares: ["value(\"a\") = \"12\""], success: ["put a 13", "get a"], failure: []))
        try pair.etcdctl(["get", "", "--from-key"])
    }
}
