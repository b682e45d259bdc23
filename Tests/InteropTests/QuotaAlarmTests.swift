import Foundation
import Testing

/// --quota-backend-bytes end to end with etcdctl: writes past the quota fail with etcd's NOSPACE error and
/// raise the alarm; reads, deletes and compaction keep working; after compaction `alarm disarm` lets writes
/// through again. (Sizes differ between bbolt and LMDB, so this runs on Keel alone; the texts are etcd's.)
@Suite struct QuotaAlarmTests {
    @Test func noSpaceAlarmFlow() throws {
        let scratch = try ScratchDirectory(label: "quota")
        let server = try ServerProcess.start(
            .keel, dataDir: scratch.child("data"), extraFlags: ["--quota-backend-bytes", "300000"])
        defer { _ = server.stop() }
        let etcdctl = Etcdctl(server)
        let value = String(repeating: "x", count: 20_000)

        var rejected: CommandResult?
        for i in 0..<60 {
            let result = try etcdctl.run(["put", "big\(i)", value])
            if result.exitCode != 0 { rejected = result; break }
        }
        let failure = try #require(rejected, "writes never hit the 300 kB quota")
        #expect(failure.stderr.contains("Error: etcdserver: mvcc: database space exceeded"), "\(failure)")
        #expect(try etcdctl.succeed(["alarm", "list"]).contains("alarm:NOSPACE"))
        // Reads and deletes still work; writes stay refused while the alarm is up.
        #expect(try etcdctl.succeed(["get", "big0", "--keys-only"]).contains("big0"))
        #expect(try etcdctl.run(["put", "small", "1"]).exitCode != 0)
        _ = try etcdctl.succeed(["del", "big", "--prefix"])
        let status = try etcdctl.succeed(["get", "small", "-w", "json"])
        let revision = try #require(
            (try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
                .flatMap { $0["header"] as? [String: Any] }?["revision"] as? NSNumber)
        _ = try etcdctl.succeed(["compaction", "\(revision.int64Value)"])
        // Disarm prints the alarm it cleared; then the list is empty and writes go through.
        #expect(try etcdctl.succeed(["alarm", "disarm"]).contains("alarm:NOSPACE"))
        #expect(try etcdctl.succeed(["alarm", "list"]).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(try etcdctl.succeed(["put", "small", "1"]).contains("OK"))
    }
}
