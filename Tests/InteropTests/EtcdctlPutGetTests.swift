import Testing

/// `etcdctl put` / `get` with every flag etcdctl 3.4 has, compared with real etcd.
@Suite struct EtcdctlPutGetTests {
    @Test func putFlagsMatchEtcd() throws {
        let pair = try SideBySide(label: "put")
        try pair.etcdctl(["put", "k", "v1"])
        try pair.etcdctl(["put", "k", "v2", "--prev-kv"])
        try pair.etcdctl(["put", "k", "--ignore-value", "--prev-kv"])  // keeps v2, bumps version
        try pair.etcdctl(["put", "k", "v3", "--ignore-lease", "--prev-kv"])
        try pair.etcdctl(["put", "fresh", "x", "--prev-kv"])  // no previous: no prev_kv field
        try pair.etcdctl(["put", "k", "simple"], json: false)  // "OK"
        try pair.etcdctl(["get", "k"])
        try pair.etcdctl(["get", "k"], json: false)
    }

    @Test func getFlagsMatchEtcd() throws {
        let pair = try SideBySide(label: "get")
        try pair.seed()
        let gets: [[String]] = [
            ["get", "a"], ["get", "missing"], ["get", "a", "c"], ["get", "a", "--keys-only"],
            ["get", "a", "--prefix"], ["get", "b", "--prefix", "--keys-only"],
            ["get", "b", "--from-key"], ["get", "", "--from-key"], ["get", "", "--from-key", "--limit", "2"],
            ["get", "a", "--prefix", "--limit", "1"],
            ["get", "a", "--rev", "2"], ["get", "a", "--rev", "5"], ["get", "c", "--rev", "8"],
            ["get", "", "--from-key", "--rev", "4"],
            ["get", "a", "--consistency=s"], ["get", "", "--from-key", "--consistency=s", "--keys-only"],
        ]
        for command in gets { try pair.etcdctl(command) }
        for target in ["CREATE", "KEY", "MODIFY", "VALUE", "VERSION"] {
            for order in ["ASCEND", "DESCEND"] {
                try pair.etcdctl(["get", "", "--from-key", "--sort-by", target, "--order", order])
            }
        }
        try pair.etcdctl(["get", "", "--from-key", "--order", "DESCEND", "--limit", "3"])
        try pair.etcdctl(["get", "a", "--prefix"], json: false)
        try pair.etcdctl(["get", "a", "--prefix", "--print-value-only"], json: false)
        try pair.etcdctl(["get", "a", "--prefix", "--keys-only"], json: false)
    }
}
