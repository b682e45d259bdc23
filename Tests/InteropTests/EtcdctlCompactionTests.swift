import Testing

/// `etcdctl compaction` (+ `--physical`) and reads around the compacted revision.
@Suite struct EtcdctlCompactionTests {
    @Test func compactionMatchesEtcd() throws {
        let pair = try SideBySide(label: "compact")
        try pair.seed()
        try pair.etcdctl(["compaction", "4"], json: false)
        try pair.etcdctl(["get", "a", "--rev", "3"], etcdSucceeds: false)  // compacted
        try pair.etcdctl(["get", "a", "--rev", "4"])  // the compaction revision itself stays readable
        try pair.etcdctl(["get", "", "--from-key", "--rev", "5"])
        try pair.etcdctl(["compaction", "4"], json: false, etcdSucceeds: false)  // again: compacted
        try pair.etcdctl(["compaction", "3"], json: false, etcdSucceeds: false)  // older: compacted
        try pair.etcdctl(["compaction", "99"], json: false, etcdSucceeds: false)  // future
        try pair.etcdctl(["compaction", "8", "--physical"], json: false)
        try pair.etcdctl(["get", "c", "--rev", "7"], etcdSucceeds: false)  // compacted by the physical one
        try pair.etcdctl(["get", "c", "--rev", "8"])  // c was deleted at 8: nothing
        try pair.etcdctl(["put", "after", "compaction"])
        try pair.etcdctl(["get", "", "--from-key"])
    }
}
