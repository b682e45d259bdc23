import Testing

/// Requests etcd refuses: exit code and the `Error: …` text must match etcd's exactly.
@Suite struct EtcdctlErrorTests {
    @Test func errorsMatchEtcd() throws {
        let pair = try SideBySide(label: "errors")
        try pair.seed()
        let failing: [[String]] = [
            ["put", "", "x"],  // etcdserver: key is not provided
            ["get", "a", "--rev", "100"],  // mvcc: required revision is a future revision
            ["put", "nokey", "--ignore-value"],  // etcdserver: key not found
            ["put", "k", "v", "--lease", "1234"],  // etcdserver: requested lease not found
            ["put", "k", "v", "--ignore-value"],  // value given with ignore-value: client-side error
            ["get", "", "--prefix", "--from-key"],  // `--from-key` and `--prefix` together
        ]
        for command in failing {
            try pair.etcdctl(command, etcdSucceeds: false)
        }
        // Txn validation: a key written twice, and more ops than --max-txn-ops (128 by default).
        try pair.etcdctl(["txn"], stdin: "\nput dup 1\nput dup 2\n\n\n", etcdSucceeds: false)
        let tooMany = (0...128).map { "put many\($0) x\n" }.joined()
        try pair.etcdctl(["txn"], stdin: "\n" + tooMany + "\n\n", etcdSucceeds: false)
        try pair.etcdctl(["compaction", "3"], json: false)
        let compacted = try pair.etcdctl(["get", "a", "--rev", "2"], etcdSucceeds: false)
        #expect(compacted.etcd.etcdctlErrorLines == ["Error: etcdserver: mvcc: required revision has been compacted"])
        try pair.etcdctl(["get", "", "--from-key"])  // none of the failures changed anything
    }
}
