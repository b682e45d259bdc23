import Foundation
import Testing

/// /metrics values that count what the server did, compared with etcd 3.4's for the same writes.
@Suite struct MetricsTests {
    private static func value(_ metrics: String, _ name: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func writeCountersAndWALFsyncHistogramAsEtcd() throws {
        let pair = try SideBySide(label: "metrics-writes")
        for server in [pair.etcd, pair.subject] {
            let ctl = Etcdctl(server)
            let before = try Curl.get(server.clientURL + "/metrics").stdout
            for i in 0..<5 { try ctl.succeed(["put", "m/\(i)", "v"]) }
            try ctl.succeed(["txn"], stdin: "\nput m/t1 a\nput m/t2 b\ndel m/none\n\n\n")
            try ctl.succeed(["del", "m/", "--prefix"])  // 7 keys, one DeleteRange
            try ctl.succeed(["del", "m/none"])          // nothing deleted, still a DeleteRange
            let after = try Curl.get(server.clientURL + "/metrics").stdout
            func delta(_ name: String) -> Double { (Self.value(after, name) ?? -1) - (Self.value(before, name) ?? 0) }
            #expect(delta("etcd_mvcc_put_total") == 7, "\(server.kind)")
            #expect(delta("etcd_mvcc_delete_total") == 3, "\(server.kind)")  // DeleteRange calls, as etcd counts
            // Every write above was one fsynced WAL batch at least.
            #expect(delta("etcd_disk_wal_fsync_duration_seconds_count") >= 8, "\(server.kind)")
            #expect(after.contains("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"}"), "\(server.kind)")
        }
    }
}
