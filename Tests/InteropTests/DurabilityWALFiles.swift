import Foundation

/// Finds and damages a server's write-ahead log files, the way a crash or a bad disk would.
/// Layout-agnostic: any `*.wal` file under the data dir counts (etcd and Keel both keep
/// `member/wal/<seq>-<index>.wal`). Segments may be preallocated, so "the written part" of a
/// segment is everything up to its last non-zero byte.
enum DurabilityWALFiles {
    /// Every WAL segment under `dataDir`, sorted by name (segment names sort in log order).
    static func segments(in dataDir: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dataDir) else {
            throw DurabilityFailure("cannot list \(dataDir)")
        }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.hasSuffix(".wal") { found.append(relative) }
        }
        guard !found.isEmpty else {
            throw DurabilityFailure("no *.wal file under \(dataDir); layout:\n\(layout(of: dataDir))")
        }
        return found.sorted { URL(fileURLWithPath: $0).lastPathComponent < URL(fileURLWithPath: $1).lastPathComponent }
            .map { "\(dataDir)/\($0)" }
    }

    /// The data dir's files and sizes, for failure messages.
    static func layout(of dataDir: String) -> String {
        let walker = FileManager.default.enumerator(atPath: dataDir)
        var lines: [String] = []
        while let relative = walker?.nextObject() as? String, lines.count < 200 {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(dataDir)/\(relative)")
            let size = (attributes?[.size] as? Int) ?? 0
            lines.append("  \(relative) \(size)")
        }
        return lines.joined(separator: "\n")
    }

    /// Length of the written prefix: one past the last non-zero byte (0 for an all-zero file).
    static func writtenLength(_ bytes: [UInt8]) -> Int {
        var end = bytes.count
        while end > 0 && bytes[end - 1] == 0 { end -= 1 }
        return end
    }

    /// Inverts `count` bytes in the middle of the written part of `path`; returns where.
    @discardableResult
    static func flipMiddle(of path: String, count: Int = 8) throws -> Int {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let written = writtenLength(bytes)
        guard written >= 4 * count else {
            throw DurabilityFailure("\(path) has only \(written) written bytes, too few to corrupt in the middle")
        }
        let start = written / 2 - count / 2
        for index in start..<start + count { bytes[index] ^= 0xff }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return start
    }

    /// Cuts `path` to its written length minus `bytes`: the tail of its last record is gone, as
    /// after a crash in the middle of an append.
    static func tearTail(of path: String, bytes: Int) throws {
        let contents = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let written = writtenLength(contents)
        guard written > bytes else { throw DurabilityFailure("\(path) is too short to tear (\(written) bytes)") }
        try Data(contents[0..<written - bytes]).write(to: URL(fileURLWithPath: path))
    }
}
