import Foundation
import Testing
@testable import WAL

/// A fresh directory under the system temp dir, removed when `body` returns (even on throw).
func withTempDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("keel-wal-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// Deterministic entry: data bytes depend on index, term and a salt.
func makeEntry(_ index: UInt64, term: UInt64 = 1, size: Int = 100, salt: UInt8 = 0) -> WALEntry {
    let data = (0..<size).map { UInt8(truncatingIfNeeded: Int(index) &* 31 &+ $0 &+ Int(term) &* 7 &+ Int(salt)) }
    return WALEntry(term: term, index: index, kind: UInt8(index % 3), data: data)
}

func makeEntries(_ range: ClosedRange<UInt64>, term: UInt64 = 1, size: Int = 100, salt: UInt8 = 0) -> [WALEntry] {
    range.map { makeEntry($0, term: term, size: size, salt: salt) }
}

/// Segment file paths in log order.
func segmentPaths(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir)
        .filter { $0.hasSuffix(".wal") }
        .sorted()
        .map { dir + "/" + $0 }
}

func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Runs `body` expecting a WALError and returns it (nil, recorded as a failure, if none was thrown).
func expectWALError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> WALError? {
    do {
        try body()
        Issue.record("expected a WALError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as WALError {
        return error
    } catch {
        Issue.record("expected a WALError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

enum FileIOForTests {
    static func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }
    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
