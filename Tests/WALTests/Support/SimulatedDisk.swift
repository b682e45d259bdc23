// An in-memory disk for power-loss tests. Reads see every write; only fsync/fdatasync make a file's
// data durable and only fsyncDirectory makes creates, renames and unlinks in a directory durable.
// `crash` then does what a power cut may: per file, each unsynced write survives whole, is lost, or
// is torn (some 512-byte sectors or a prefix only), independently of other files (so writes are
// reordered across files); per directory, a prefix of the unsynced metadata operations survives
// (a journal commits them in order). Everything is driven by the caller's seeded generator.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
@testable import WAL

/// SplitMix64: small, fast, and the same sequence everywhere for a given seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class SimulatedDisk: WALFileSystem {
    /// A sync the code under test asks for but the disk ignores: stands for a sync removed from the code.
    enum SkippedSync: Sendable, Equatable {
        /// fsync/fdatasync of a file whose path ends with the suffix.
        case file(pathSuffix: String)
        /// fsync of a directory whose path ends with the suffix.
        case directory(pathSuffix: String)
    }

    struct CrashReport: Sendable, Equatable {
        var writesKept = 0
        var writesLost = 0
        var writesTorn = 0
        var directoryOpsKept = 0
        var directoryOpsLost = 0
    }

    private enum FileOp { case write(offset: Int, bytes: [UInt8]), truncate(Int) }
    private enum Entry: Equatable { case file(Int), directory }
    private struct Inode {
        var current: [UInt8] = []
        var durable: [UInt8] = []
        var pending: [FileOp] = []
    }
    private struct Directory {
        var current: [String: Entry] = [:]
        var durable: [String: Entry] = [:]
        /// Each element is one atomic operation (a rename sets two names).
        var pending: [[(String, Entry?)]] = []
    }
    private struct State {
        var directories: [String: Directory] = ["/": Directory()]
        var inodes: [Int: Inode] = [:]
        var nextInode = 1
        var open: [Int32: (inode: Int, path: String)] = [:]
        var nextFD: Int32 = 1000
        var locks: [String: Int] = [:]
        var nextLockToken = 1
        var skipped: SkippedSync?
        var skippedCount = 0
        /// Mutating operations left before every further one fails with EIO (a crash mid-call).
        var failAfter: Int?
    }

    private let state = Mutex(State())

    init(skipping: SkippedSync? = nil) {
        state.withLock { $0.skipped = skipping }
    }

    /// How many syncs were ignored because of `skipping`.
    var skippedSyncs: Int { state.withLock { $0.skippedCount } }

    /// After `n` more mutating calls, every mutating call throws EIO until `crash`.
    func failAfter(operations n: Int) { state.withLock { $0.failAfter = n } }

    // MARK: paths

    private static func split(_ path: String) -> (parent: String, name: String) {
        precondition(path.hasPrefix("/"), "simulated paths are absolute: \(path)")
        let parent = FileIO.parent(path)
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let name = trimmed.split(separator: "/").last.map(String.init) ?? ""
        return (parent, name)
    }

    private static func normalized(_ dir: String) -> String {
        var d = Substring(dir)
        while d.count > 1 && d.hasSuffix("/") { d = d.dropLast() }
        return String(d)
    }

    private static func error(_ op: String, _ path: String, _ code: Int32) -> WALError {
        .io(operation: op, path: path, errno: code)
    }

    private func lookup(_ s: State, _ path: String) -> Entry? {
        let (parent, name) = Self.split(path)
        if path == "/" { return .directory }
        return s.directories[parent]?.current[name]
    }

    /// Counts a mutating call against `failAfter`.
    private func admit(_ s: inout State, _ op: String, _ path: String) throws {
        guard let left = s.failAfter else { return }
        if left <= 0 { throw Self.error(op, path, EIO) }
        s.failAfter = left - 1
    }

    private static func apply(_ op: FileOp, to bytes: inout [UInt8]) {
        switch op {
        case .write(let offset, let data):
            if bytes.count < offset + data.count { bytes += [UInt8](repeating: 0, count: offset + data.count - bytes.count) }
            bytes.replaceSubrange(offset..<offset + data.count, with: data)
        case .truncate(let size):
            if size < bytes.count { bytes.removeSubrange(size...) } else { bytes += [UInt8](repeating: 0, count: size - bytes.count) }
        }
    }

    private static func setName(_ dir: inout Directory, _ changes: [(String, Entry?)]) {
        dir.pending.append(changes)
        for (n, e) in changes { dir.current[n] = e }
    }

    // MARK: WALFileSystem

    func open(_ path: String, _ flags: Int32) throws -> Int32 {
        try state.withLock { s in
            let (parent, name) = Self.split(path)
            guard s.directories[parent] != nil else { throw Self.error("open", path, ENOENT) }
            let inode: Int
            switch s.directories[parent]!.current[name] {
            case .directory: throw Self.error("open", path, EISDIR)
            case .file(let i):
                inode = i
                if flags & O_TRUNC != 0 {
                    try admit(&s, "open", path)
                    s.inodes[i]!.current = []
                    s.inodes[i]!.pending.append(.truncate(0))
                }
            case nil:
                guard flags & O_CREAT != 0 else { throw Self.error("open", path, ENOENT) }
                try admit(&s, "open", path)
                inode = s.nextInode
                s.nextInode += 1
                s.inodes[inode] = Inode()
                Self.setName(&s.directories[parent]!, [(name, .file(inode))])
            }
            let fd = s.nextFD
            s.nextFD += 1
            s.open[fd] = (inode, path)
            return fd
        }
    }

    func close(_ fd: Int32) {
        state.withLock { _ = $0.open.removeValue(forKey: fd) }
    }

    func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        try state.withLock { s in
            guard let (inode, _) = s.open[fd] else { throw Self.error("pwrite", path, EBADF) }
            try admit(&s, "pwrite", path)
            let op = FileOp.write(offset: offset, bytes: [UInt8](bytes))
            Self.apply(op, to: &s.inodes[inode]!.current)
            s.inodes[inode]!.pending.append(op)
            return bytes.count
        }
    }

    private func syncFile(_ fd: Int32, _ op: String, _ path: String) throws {
        try state.withLock { s in
            guard let (inode, _) = s.open[fd] else { throw Self.error(op, path, EBADF) }
            try admit(&s, op, path)
            if case .file(let suffix) = s.skipped, path.hasSuffix(suffix) {
                s.skippedCount += 1
                return
            }
            s.inodes[inode]!.durable = s.inodes[inode]!.current
            s.inodes[inode]!.pending = []
        }
    }

    func fdatasync(_ fd: Int32, path: String) throws { try syncFile(fd, "fdatasync", path) }
    func fsync(_ fd: Int32, path: String) throws { try syncFile(fd, "fsync", path) }

    func truncate(_ fd: Int32, to size: Int, path: String) throws {
        try state.withLock { s in
            guard let (inode, _) = s.open[fd] else { throw Self.error("ftruncate", path, EBADF) }
            try admit(&s, "ftruncate", path)
            Self.apply(.truncate(size), to: &s.inodes[inode]!.current)
            s.inodes[inode]!.pending.append(.truncate(size))
        }
    }

    func preallocate(_ fd: Int32, length: Int) {}

    func readAll(_ path: String) throws -> [UInt8] {
        try state.withLock { s in
            guard case .file(let i) = lookup(s, path) else { throw Self.error("open", path, ENOENT) }
            return s.inodes[i]!.current
        }
    }

    func readPrefix(_ path: String, limit: Int) throws -> [UInt8] {
        Array(try readAll(path).prefix(limit))
    }

    func fsyncDirectory(_ dir: String) throws {
        let dir = Self.normalized(dir)
        try state.withLock { s in
            guard s.directories[dir] != nil else { throw Self.error("open", dir, ENOENT) }
            try admit(&s, "fsync", dir)
            if case .directory(let suffix) = s.skipped, dir.hasSuffix(suffix) {
                s.skippedCount += 1
                return
            }
            s.directories[dir]!.durable = s.directories[dir]!.current
            s.directories[dir]!.pending = []
        }
    }

    func makeDirectory(_ dir: String) throws {
        let dir = Self.normalized(dir)
        try state.withLock { s in
            switch lookup(s, dir) {
            case .directory: return
            case .file: throw Self.error("mkdir", dir, EEXIST)
            case nil: break
            }
            let (parent, name) = Self.split(dir)
            guard s.directories[parent] != nil else { throw Self.error("mkdir", dir, ENOENT) }
            try admit(&s, "mkdir", dir)
            Self.setName(&s.directories[parent]!, [(name, .directory)])
            s.directories[dir] = Directory()
        }
    }

    func rename(_ from: String, _ to: String) throws {
        try state.withLock { s in
            let (p1, n1) = Self.split(from), (p2, n2) = Self.split(to)
            precondition(p1 == p2, "the WAL renames within one directory")
            guard case .file(let i)? = s.directories[p1]?.current[n1] else { throw Self.error("rename", from, ENOENT) }
            try admit(&s, "rename", from)
            Self.setName(&s.directories[p1]!, [(n2, .file(i)), (n1, nil)])
        }
    }

    func unlink(_ path: String) throws {
        try state.withLock { s in
            let (parent, name) = Self.split(path)
            guard case .file? = s.directories[parent]?.current[name] else { return }
            try admit(&s, "unlink", path)
            Self.setName(&s.directories[parent]!, [(name, nil)])
        }
    }

    func listDirectory(_ dir: String) throws -> [String] {
        let dir = Self.normalized(dir)
        return try state.withLock { s in
            guard let d = s.directories[dir] else { throw Self.error("opendir", dir, ENOENT) }
            return d.current.keys.sorted()
        }
    }

    func fileSize(_ path: String) throws -> Int { try readAll(path).count }

    func exists(_ path: String) -> Bool {
        state.withLock { lookup($0, Self.normalized(path)) != nil }
    }

    final class Lock: WALDirectoryLock {
        let disk: SimulatedDisk
        let dir: String
        let token: Int
        init(disk: SimulatedDisk, dir: String, token: Int) { self.disk = disk; self.dir = dir; self.token = token }
        func release() { disk.state.withLock { s in if s.locks[dir] == token { s.locks[dir] = nil } } }
    }

    func lockDirectory(_ dir: String, name: String) throws -> any WALDirectoryLock {
        let dir = Self.normalized(dir)
        return try state.withLock { s in
            guard s.directories[dir] != nil else { throw Self.error("open", dir, ENOENT) }
            if s.locks[dir] != nil { throw WALError.locked(path: FileIO.join(dir, name)) }
            let token = s.nextLockToken
            s.nextLockToken += 1
            s.locks[dir] = token
            return Lock(disk: self, dir: dir, token: token)
        }
    }

    // MARK: power loss

    /// Cuts the power: unsynced data and metadata survive, vanish or tear as chosen by `rng`. Open
    /// files and locks are gone (the process died with the power). Returns what happened.
    @discardableResult
    func crash<G: RandomNumberGenerator>(using rng: inout G) -> CrashReport {
        state.withLock { s in
            var report = CrashReport()
            // Mostly the harsh cases a real disk shows: everything unsynced lost, everything kept
            // (as after kill -9), or a per-write mix with tearing.
            let mode = Int.random(in: 0..<4, using: &rng)
            for path in s.directories.keys.sorted() {
                var d = s.directories[path]!
                let n = d.pending.count
                let keep = mode == 0 ? 0 : mode == 1 ? n : Int.random(in: 0...n, using: &rng)
                for change in d.pending.prefix(keep) { for (name, e) in change { d.durable[name] = e } }
                report.directoryOpsKept += keep
                report.directoryOpsLost += n - keep
                d.current = d.durable
                d.pending = []
                s.directories[path] = d
            }
            for id in s.inodes.keys.sorted() {
                var f = s.inodes[id]!
                for op in f.pending {
                    let fate = mode == 0 ? 0 : mode == 1 ? 1 : Int.random(in: 0..<3, using: &rng)
                    switch (fate, op) {
                    case (0, _):
                        report.writesLost += 1
                    case (1, _), (_, .truncate):
                        Self.apply(op, to: &f.durable)
                        report.writesKept += 1
                    case (_, .write(let offset, let bytes)):
                        report.writesTorn += 1
                        Self.tear(offset: offset, bytes: bytes, into: &f.durable, using: &rng)
                    }
                }
                f.current = f.durable
                f.pending = []
                s.inodes[id] = f
            }
            // Directories whose own entry did not survive are gone with everything in them.
            var reachable: [String: Directory] = [:]
            var live = Set<Int>()
            var stack = ["/"]
            while let path = stack.popLast() {
                guard let d = s.directories[path] else { continue }
                reachable[path] = d
                for (name, e) in d.durable {
                    switch e {
                    case .directory: stack.append(FileIO.join(path, name))
                    case .file(let i): live.insert(i)
                    }
                }
            }
            s.directories = reachable
            s.inodes = s.inodes.filter { live.contains($0.key) }
            s.open = [:]
            s.locks = [:]
            s.failAfter = nil
            return report
        }
    }

    /// A torn write: either a prefix of it, or an arbitrary subset of its 512-byte sectors.
    private static func tear<G: RandomNumberGenerator>(offset: Int, bytes: [UInt8], into file: inout [UInt8], using rng: inout G) {
        guard !bytes.isEmpty else { return }
        if Bool.random(using: &rng) {
            let n = Int.random(in: 0..<bytes.count, using: &rng)
            if n > 0 { apply(.write(offset: offset, bytes: Array(bytes[..<n])), to: &file) }
            return
        }
        let sector = 512
        var start = offset
        while start < offset + bytes.count {
            let end = min((start / sector + 1) * sector, offset + bytes.count)
            if Bool.random(using: &rng) {
                apply(.write(offset: start, bytes: Array(bytes[(start - offset)..<(end - offset)])), to: &file)
            }
            start = end
        }
    }
}
