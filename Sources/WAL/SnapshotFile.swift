// Snapshot files: "<index>-<term>.snap" (16 hex digits each, so names sort by index).
//
// Layout (little-endian):
//   0  "KEELSNP1"
//   8  u64 index
//  16  u64 term
//  24  u64 data length
//  32  u32 CRC32C over bytes 8..<32 and the data
//  36  u32 zero
//  40  data
//
// Written to "<name>.tmp", fsynced, renamed, directory fsynced: a .snap file is complete or absent.
#if canImport(Glibc)
import Glibc
#endif

public struct LoadedSnapshot: Sendable, Equatable {
    public var index: UInt64
    public var term: UInt64
    public var data: [UInt8]
    public var path: String
}

/// A snapshot file that `loadNewest` could not use, and why.
public struct SkippedSnapshot: Sendable, Equatable {
    public var path: String
    public var reason: String
}

public struct SnapshotLoadResult: Sendable, Equatable {
    /// The newest valid snapshot, nil if there is none.
    public var snapshot: LoadedSnapshot?
    /// Newer files that were broken, newest first. Worth logging loudly.
    public var skipped: [SkippedSnapshot]
}

public enum SnapshotFile {
    static let magic: [UInt8] = Array("KEELSNP1".utf8)
    static let headerSize = 40
    static let suffix = ".snap"
    /// Default cap on a snapshot's data, so a damaged length cannot make us allocate wildly.
    public static let defaultMaxBytes = 1 << 30

    static func fileName(index: UInt64, term: UInt64) -> String { hex16(index) + "-" + hex16(term) + suffix }

    static func parse(fileName: String) -> (index: UInt64, term: UInt64)? {
        guard fileName.hasSuffix(suffix) else { return nil }
        let parts = fileName.dropLast(suffix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16, parts[1].count == 16,
              let index = UInt64(parts[0], radix: 16), let term = UInt64(parts[1], radix: 16) else { return nil }
        return (index, term)
    }

    /// Durably writes a snapshot and returns its path.
    @discardableResult
    public static func save(directory: String, index: UInt64, term: UInt64, data: [UInt8],
                            fileSystem fs: any WALFileSystem = WALFileSystems.processDefault) throws -> String {
        try fs.makeDurableDirectory(directory)
        var header = [UInt8]()
        header.reserveCapacity(headerSize)
        header.append(contentsOf: magic)
        header.put64(index)
        header.put64(term)
        header.put64(UInt64(data.count))
        var crc = header.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8..<32])) }
        crc = CRC32C.checksum(data, continuing: crc)
        for i in 0..<4 { header.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        header.append(contentsOf: [0, 0, 0, 0] as [UInt8])
        precondition(header.count == headerSize)

        let path = FileIO.join(directory, fileName(index: index, term: term))
        let temp = path + ".tmp"
        let fd = try fs.open(temp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try header.withUnsafeBytes { _ = try fs.pwriteAll(fd, $0, at: 0, path: temp) }
            try data.withUnsafeBytes { _ = try fs.pwriteAll(fd, $0, at: headerSize, path: temp) }
            try fs.fsync(fd, path: temp)
            fs.close(fd)
        } catch {
            fs.close(fd)
            try? fs.unlink(temp)
            throw error
        }
        try fs.rename(temp, path)
        try fs.fsyncDirectory(directory)
        return path
    }

    /// The newest snapshot that passes every check; broken newer ones are skipped and reported.
    public static func loadNewest(directory: String, maxBytes: Int = defaultMaxBytes,
                                  fileSystem fs: any WALFileSystem = WALFileSystems.processDefault) throws -> SnapshotLoadResult {
        var result = SnapshotLoadResult(snapshot: nil, skipped: [])
        guard fs.exists(directory) else { return result }
        for name in try snapshotNames(directory, fs).reversed() {
            let path = FileIO.join(directory, name)
            switch load(path: path, name: name, maxBytes: maxBytes, fs: fs) {
            case .success(let s):
                result.snapshot = s
                return result
            case .failure(let reason):
                result.skipped.append(SkippedSnapshot(path: path, reason: reason.text))
            }
        }
        return result
    }

    /// The snapshot at exactly (index, term), checked; throws `.corrupt` when it is missing or damaged
    /// (the WAL's snapshot mark names it, so start-up cannot go on without it).
    public static func load(directory: String, index: UInt64, term: UInt64, maxBytes: Int = defaultMaxBytes,
                            fileSystem fs: any WALFileSystem = WALFileSystems.processDefault) throws -> LoadedSnapshot {
        let name = fileName(index: index, term: term)
        let path = FileIO.join(directory, name)
        switch load(path: path, name: name, maxBytes: maxBytes, fs: fs) {
        case .success(let s): return s
        case .failure(let f): throw WALError.corrupt(file: path, offset: 0, reason: f.text)
        }
    }

    /// Deletes all but the newest `keep` snapshot files (and stray temp files). Returns the removed paths.
    /// With `markIndex` (the WAL's snapshot mark), only files at or below it count and go: a newer file is
    /// the leftover of a snapshot whose mark never reached the WAL (a crash between the two), and must not
    /// push out the file the mark names (found by PowerLossTests).
    @discardableResult
    public static func purge(directory: String, keep: Int, markIndex: UInt64? = nil,
                             fileSystem fs: any WALFileSystem = WALFileSystems.processDefault) throws -> [String] {
        precondition(keep >= 0)
        guard fs.exists(directory) else { return [] }
        var removed: [String] = []
        for n in try fs.listDirectory(directory) where n.hasSuffix(suffix + ".tmp") {
            try fs.unlink(FileIO.join(directory, n))
            removed.append(FileIO.join(directory, n))
        }
        let names = try snapshotNames(directory, fs).filter { n in markIndex.map { parse(fileName: n)!.index <= $0 } ?? true }
        for n in names.dropLast(keep) {
            try fs.unlink(FileIO.join(directory, n))
            removed.append(FileIO.join(directory, n))
        }
        if !removed.isEmpty { try fs.fsyncDirectory(directory) }
        return removed
    }

    /// Snapshot file names, oldest first (index, then term).
    static func snapshotNames(_ directory: String, _ fs: any WALFileSystem) throws -> [String] {
        try fs.listDirectory(directory)
            .compactMap { n in parse(fileName: n).map { (n, $0) } }
            .sorted { ($0.1.index, $0.1.term) < ($1.1.index, $1.1.term) }
            .map { $0.0 }
    }

    struct Failure: Error { var text: String }

    static func load(path: String, name: String, maxBytes: Int, fs: any WALFileSystem) -> Result<LoadedSnapshot, Failure> {
        let bytes: [UInt8]
        do {
            let size = try fs.fileSize(path)
            guard size <= maxBytes + headerSize else { return .failure(Failure(text: "file of \(size) bytes over limit")) }
            bytes = try fs.readAll(path)
        } catch { return .failure(Failure(text: "\(error)")) }
        return parse(bytes: bytes, path: path, name: name, maxBytes: maxBytes)
    }

    /// Checks and decodes a snapshot file's bytes (named `name`).
    static func parse(bytes: [UInt8], path: String, name: String, maxBytes: Int) -> Result<LoadedSnapshot, Failure> {
        guard bytes.count >= headerSize else { return .failure(Failure(text: "file too short (\(bytes.count) bytes)")) }
        return bytes.withUnsafeBytes { raw in
            guard Array(raw[0..<8]) == magic else { return .failure(Failure(text: "bad magic")) }
            let index = raw.le64(8), term = raw.le64(16), length = raw.le64(24)
            guard length <= UInt64(maxBytes) else { return .failure(Failure(text: "data length \(length) over limit")) }
            guard Int(length) == bytes.count - headerSize else {
                return .failure(Failure(text: "data length \(length) but file holds \(bytes.count - headerSize)"))
            }
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[8..<32]))
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[headerSize...]), continuing: crc)
            guard crc == raw.le32(32) else { return .failure(Failure(text: "CRC mismatch")) }
            guard let fromName = parse(fileName: name), fromName == (index, term) else {
                return .failure(Failure(text: "file name does not match index \(index) term \(term)"))
            }
            return .success(LoadedSnapshot(index: index, term: term,
                                           data: [UInt8](UnsafeRawBufferPointer(rebasing: raw[headerSize...])), path: path))
        }
    }
}
