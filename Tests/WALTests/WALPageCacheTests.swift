import Foundation
import Testing
@testable import WAL
#if canImport(Glibc)
import Glibc
#endif

/// Start-up reads every segment it replays, the active one's preallocated rest included; readahead fills
/// the page cache with large folios, and appends landing in them cost a walk over all their blocks on
/// every pwrite and fdatasync. Open leaves none of those pages cached.
@Suite struct WALPageCacheTests {
    @Test func openLeavesTheReplayedSegmentOutOfThePageCache() throws {
        try withTempDirectory { dir in
            let options = WALOptions(segmentSize: 8 << 20)
            let wal = try WAL.create(directory: dir, metadata: [7], options: options)
            try wal.save(entries: makeEntries(1...50), hardState: WALHardState(term: 1, vote: 1, commit: 50))
            try wal.close()
            let path = try segmentPaths(dir).last!
            #expect(try fileSize(path) == 8 << 20)
            // What a start-up without the drop leaves behind: the whole preallocated file cached.
            _ = try readBytes(path)
            let cachedBefore = try residentPages(path)

            let (reopened, replay) = try WAL.open(directory: dir, options: options)
            #expect(replay.entries == makeEntries(1...50))
            let cachedAfterOpen = try residentPages(path)
            try reopened.save(entries: makeEntries(51...51), hardState: WALHardState(term: 1, vote: 1, commit: 51))
            let cachedAfterAppend = try residentPages(path)
            try reopened.close()
            let (again, replayAgain) = try WAL.open(directory: dir, options: options)
            #expect(replayAgain.entries == makeEntries(1...51))
            try again.close()

            guard !onTmpfs(dir) else {
                // tmpfs keeps every page (it has no disk to drop them to): nothing to measure there.
                print("WALPageCacheTests: \(dir) is on tmpfs; page-cache residency not checked")
                return
            }
            #expect(cachedBefore == 2048, "the read cached the whole 8 MiB segment")
            #expect(cachedAfterOpen <= 2, "open left \(cachedAfterOpen) of 2048 pages cached")
            // The append brings back only the block it writes into (one page here; an append that crosses
            // a block boundary touches two).
            #expect(cachedAfterAppend <= 4, "an append left \(cachedAfterAppend) pages cached")
        }
    }

    /// Pages of `path` in the page cache (mincore over a shared read-only mapping).
    private func residentPages(_ path: String) throws -> Int {
        let fd = Glibc.open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { Glibc.close(fd) }
        let size = try fileSize(path)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            Issue.record("mmap failed: errno \(errno)")
            return -1
        }
        defer { munmap(map, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var vector = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
        #expect(mincore(map, size, &vector) == 0)
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }

    /// The file system type of the longest mount point above `path`, from /proc/mounts, is tmpfs.
    private func onTmpfs(_ path: String) -> Bool {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return false }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best = (point: "", type: "")
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2 else { continue }
            let point = String(fields[1])
            let under = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if under && point.count > best.point.count { best = (point, String(fields[2])) }
        }
        return best.type == "tmpfs"
    }
}
