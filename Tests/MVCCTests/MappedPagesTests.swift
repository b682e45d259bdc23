import Foundation
import Testing
@testable import Backend
@testable import MVCC

/// `Backend.releaseMappedPages`: the data file's pages mapped in by reads leave the resident set, and
/// reading them again (through the same map) gives the same data.
@Suite struct MappedPagesTests {
    /// Resident kB of this process's mappings of `file`'s inode (from /proc/self/smaps).
    func residentKB(of file: String) throws -> Int {
        let inode = try #require(try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? NSNumber)
        // Read to the end: /proc files report a size of 0.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var total = 0
        var inFile = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5 {
                inFile = UInt64(fields[4]) == inode.uint64Value
            } else if inFile, fields.first == "Rss:", fields.count >= 2 {
                total += Int(fields[1]) ?? 0
            }
        }
        return total
    }

    @Test func readPagesLeaveTheResidentSetAndReadBackTheSame() throws {
        let h = try Harness()
        let value = String(repeating: "v", count: 2000)
        for i in 0..<4000 { _ = h.put("key-\(i)", value) }
        let file = h.store.backend.config.directory + "/keel.mdb"
        let all = RangeRequest(key: [0], rangeEnd: [0])
        let before = try h.store.range(all).kvs
        #expect(before.count == 4000)
        let mapped = try residentKB(of: file)
        #expect(mapped > 4000, "reading ~8 MB of values maps their pages (\(mapped) kB)")
        h.store.backend.releaseMappedPages()
        let after = try residentKB(of: file)
        #expect(after < mapped / 4, "released: \(mapped) kB -> \(after) kB")
        #expect(try h.store.range(all).kvs == before, "the same data through the map after the release")
    }
}
