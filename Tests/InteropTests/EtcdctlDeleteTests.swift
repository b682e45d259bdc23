import Testing

/// `etcdctl del` with `--prefix`, `--prev-kv`, `--from-key` and ranges, compared with real etcd.
@Suite struct EtcdctlDeleteTests {
    @Test func deleteFlagsMatchEtcd() throws {
        let pair = try SideBySide(label: "del")
        try pair.seed()
        try pair.etcdctl(["del", "missing"])  // deleted 0: no revision bump
        try pair.etcdctl(["del", "zz", "--prev-kv"])
        try pair.etcdctl(["del", "b", "--prefix", "--prev-kv"])
        try pair.etcdctl(["del", "a", "ab"])  // [a, ab): only a
        try pair.etcdctl(["put", "m1", "x"])
        try pair.etcdctl(["put", "m2", "y"])
        try pair.etcdctl(["del", "ab", "--from-key"], json: false)  // simple output: the count
        try pair.etcdctl(["get", "", "--from-key"])
        try pair.etcdctl(["get", "a", "--rev", "10"])  // history survives the deletes
    }
}
