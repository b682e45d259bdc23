import CLMDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Configuration of one LMDB environment.
public struct BackendConfig: Sendable {
    /// Directory holding the single database file `keel.mdb` (and its `-lock` file).
    public var directory: String
    /// `--quota-backend-bytes`: writes that would grow the data past this fail with `quotaExceeded`.
    public var quotaBytes: Int64
    /// LMDB map size (address space reserved). Defaults to twice the quota plus 256 MiB, so the
    /// quota check trips long before MDB_MAP_FULL; tests shrink it to exercise MAP_FULL handling.
    public var mapSize: Int
    /// Upper bound on concurrent read transactions (LMDB's reader table size).
    public var maxReaders: UInt32
    /// The member id recorded on alarms this backend raises by itself (the NOSPACE alarm of a
    /// write that hit the quota); 0 when the server does not say.
    public var memberID: UInt64

    public static let defaultQuotaBytes: Int64 = 2 * 1024 * 1024 * 1024

    public init(directory: String, quotaBytes: Int64 = BackendConfig.defaultQuotaBytes,
                mapSize: Int? = nil, maxReaders: UInt32 = 1024, memberID: UInt64 = 0) {
        precondition(quotaBytes > 0, "quota must be positive")
        self.directory = directory
        self.quotaBytes = quotaBytes
        self.mapSize = mapSize ?? Int(quotaBytes) * 2 + 256 * 1024 * 1024
        self.maxReaders = maxReaders
        self.memberID = memberID
    }
}

/// The storage engine: one LMDB environment with named buckets.
///
/// Durability model: the Raft WAL is fsynced before entries are applied, so the backend need not
/// fsync on every commit. The environment is opened with MDB_NOSYNC | MDB_NOMETASYNC and the
/// server calls `sync()` periodically. After a power loss the backend may therefore be *behind*
/// the WAL (never ahead, and never torn: LMDB's copy-on-write pages keep the last synced meta page
/// valid); the consistent index stored in the `meta` bucket in the same transaction as the data
/// tells the server from which WAL entry to replay.
///
/// Thread safety: LMDB environments are safe to share between threads; read transactions use
/// MDB_NOTLS so any thread may open and close them, and LMDB itself serialises write transactions.
/// `@unchecked Sendable` is sound because the only mutable Swift state (closed flag, alarms) lives
/// in `Mutex`/`Atomic` and the raw handles are immutable after `init`.
public final class Backend: @unchecked Sendable {
    /// The data file's mapping, for `releaseMappedPages`.
    private let dataMap: (UnsafeMutableRawPointer, Int)?
    public let config: BackendConfig
    /// True for an image opened with `init(readingImageAt:)`: write transactions fail.
    public let isReadOnly: Bool
    let env: OpaquePointer
    let dbis: [MDB_dbi]
    let pageSize: Int
    private let closed = Mutex(false)
    /// Active alarms as last committed to the `alarm` bucket (see Alarms.swift).
    let alarmSet = Mutex(Set<AlarmMember>())
    /// Mirrors "some NOSPACE alarm is in `alarmSet`": every put checks it, so no lock there.
    let noSpaceAlarm = Atomic<Bool>(false)

    public static let fileName = "keel.mdb"

    /// Opens (creating if needed) the live environment `config.directory/keel.mdb`.
    public convenience init(config: BackendConfig) throws {
        try self.init(config: config, path: config.directory + "/" + Backend.fileName, readOnly: false)
    }

    /// Opens a file written by `writeImage(to:)` read-only. No lock file is used: nothing writes
    /// an image, and its directory may not be ours. Every bucket must be present (images of a
    /// Keel backend always have them all: `init(config:)` creates them).
    public convenience init(readingImageAt path: String) throws {
        try self.init(config: BackendConfig(directory: path), path: path, readOnly: true)
    }

    private init(config: BackendConfig, path: String, readOnly: Bool) throws {
        self.config = config
        self.isReadOnly = readOnly
        var envPtr: OpaquePointer?
        try check(mdb_env_create(&envPtr))
        guard let env = envPtr else { throw BackendError.lmdb(code: -1, message: "mdb_env_create returned nil") }
        do {
            try check(mdb_env_set_mapsize(env, config.mapSize))
            try check(mdb_env_set_maxdbs(env, MDB_dbi(Bucket.allCases.count + 8)))
            try check(mdb_env_set_maxreaders(env, config.maxReaders))
            let flags: Int32
            if readOnly {
                // Read-ahead stays on: an image is read front to back once.
                flags = MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS
            } else {
                try Backend.makeDirectory(config.directory)
                flags = MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS | MDB_NORDAHEAD
            }
            try check(mdb_env_open(env, path, UInt32(flags), 0o644))
            if !readOnly {
                // Clear reader slots left behind by a crashed process using the same file.
                var dead: Int32 = 0
                _ = mdb_reader_check(env, &dead)
            }

            var stat = MDB_stat()
            try check(mdb_env_stat(env, &stat))
            self.pageSize = Int(stat.ms_psize)

            var txn: OpaquePointer?
            try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn))
            var handles: [MDB_dbi] = []
            handles.reserveCapacity(Bucket.allCases.count)
            for bucket in Bucket.allCases {
                var dbi: MDB_dbi = 0
                let rc = mdb_dbi_open(txn, bucket.name, readOnly ? 0 : UInt32(MDB_CREATE), &dbi)
                if rc != MDB_SUCCESS {
                    mdb_txn_abort(txn)
                    if rc == MDB_NOTFOUND { throw BackendError.lmdb(code: rc, message: "\(path) has no bucket \(bucket.name)") }
                    throw BackendError.from(rc)
                }
                handles.append(dbi)
            }
            // Committing (even a read-only txn) keeps the handles open for the environment's life.
            let rc = mdb_txn_commit(txn)
            if rc != MDB_SUCCESS { throw BackendError.from(rc) }
            self.dbis = handles
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
        self.dataMap = readOnly ? nil : Self.findDataMap(env)
        do {
            try loadAlarms()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Flushes and closes the environment. Idempotent. No transaction may be running.
    public func close() {
        let wasOpen = closed.withLock { isClosed -> Bool in
            if isClosed { return false }
            isClosed = true
            return true
        }
        guard wasOpen else { return }
        _ = mdb_env_sync(env, 1)
        mdb_env_close(env)
    }

    /// Forces dirty pages and the meta page to disk (fsync). Called periodically by the server, from
    /// any thread: LMDB's sync takes no lock and may run beside a write transaction.
    public func sync() throws {
        try check(mdb_env_sync(env, 1))
    }

    /// Lets go of the data file's pages mapped into this process (they stay in the page cache).
    ///
    /// LMDB reads through its read-only shared map, and each read fault makes the kernel map up to 16
    /// neighbouring cached pages too (fault-around; MDB_NORDAHEAD's MADV_RANDOM does not stop it), so
    /// the pages a write path walks once, spread over the file by page reuse, stay mapped and count in
    /// the resident set (and in the OOM killer's score) though nothing reads them again: 278 MB after
    /// a million Puts. bbolt's writes go through pwrite and leave no mapping behind. Dropping the
    /// mappings of a shared file mapping is safe at any time, even mid-read: the next access maps the
    /// same cached page again. Not for MDB_WRITEMAP, whose dirty pages live in the map.
    public func releaseMappedPages() {
        guard !isReadOnly, let (base, length) = dataMap else { return }
        _ = madvise(base, length, MADV_DONTNEED)
    }

    /// A /proc file's text (their size reads as 0, so read to the end).
    private static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Where LMDB mapped the data file (LMDB's API gives the address only for MDB_FIXEDMAP): the
    /// read-only shared mapping of the file's inode in /proc/self/maps. Found once at open; the map
    /// never moves, as the map size is set only before opening. nil where there is no such file.
    private static func findDataMap(_ env: OpaquePointer) -> (UnsafeMutableRawPointer, Int)? {
        var fd: Int32 = -1
        var st = stat()
        guard mdb_env_get_fd(env, &fd) == 0, fstat(fd, &st) == 0, let maps = readProcFile("/proc/self/maps") else { return nil }
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count >= 5, f[1].hasPrefix("r-"), f[1].hasSuffix("s"), UInt64(f[4]) == UInt64(st.st_ino) else { continue }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let start = UInt(String(range[0]), radix: 16), let end = UInt(String(range[1]), radix: 16),
                  end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            return (base, Int(end - start))
        }
        return nil
    }

    @inline(__always)
    func dbi(_ bucket: Bucket) -> MDB_dbi { dbis[bucket.rawValue] }

    // MARK: - Size and quota

    /// Bytes of the database file in use: (last used page + 1) × page size. Like bbolt's size this
    /// is a high-water mark; freed pages are reused but the number does not shrink.
    public var sizeInUse: Int64 {
        var info = MDB_envinfo()
        guard mdb_env_info(env, &info) == MDB_SUCCESS else { return 0 }
        return Int64(info.me_last_pgno + 1) * Int64(pageSize)
    }

    /// True when `extraBytes` more data would push the database past the quota.
    public func wouldExceedQuota(extraBytes: Int64) -> Bool {
        sizeInUse + extraBytes > config.quotaBytes
    }

    // MARK: - Transactions

    /// Runs `body` in one LMDB write transaction and commits once. Any error thrown by `body` or
    /// by the commit aborts the whole transaction. MAP_FULL raises the NOSPACE alarm.
    public func write<T>(_ body: (inout WriteTx) throws -> T) throws -> T {
        try write(body, committing: { _, commit in try commit() })
    }

    /// `write` whose commit happens inside `around`: `around` gets `body`'s result and must call
    /// `commit` once, so the caller can make an in-memory change atomic with the LMDB commit (e.g.
    /// commit and swap its state under one lock). If `around` throws before committing, the
    /// transaction is aborted.
    public func write<T>(_ body: (inout WriteTx) throws -> T,
                         committing around: (T, () throws -> Void) throws -> Void) throws -> T {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn))
        var tx = WriteTx(backend: self, txn: txn!)
        var finished = false
        do {
            let result = try body(&tx)
            let alarms = tx.pendingAlarms
            try around(result) {
                precondition(!finished, "commit called twice")
                finished = true
                try commitWrite(txn!, alarms: alarms)
            }
            precondition(finished, "write(committing:) must commit")
            return result
        } catch {
            if !finished { mdb_txn_abort(txn) }
            noteFailure(error)
            throw error
        }
    }

    /// Commits; alarm changes reach memory under the alarm lock held across the commit, so two
    /// writers' alarm updates land in memory in commit order.
    private func commitWrite(_ txn: OpaquePointer, alarms: Set<AlarmMember>?) throws {
        guard let alarms else { return try check(mdb_txn_commit(txn)) }
        try alarmSet.withLock { current throws(BackendError) in
            let rc = mdb_txn_commit(txn)
            if rc != MDB_SUCCESS { throw BackendError.from(rc) }
            current = alarms
            noSpaceAlarm.store(alarms.contains { $0.alarm == .noSpace }, ordering: .releasing)
        }
    }

    /// Runs `body` in a read-only snapshot. Safe from any thread, concurrently with a writer.
    public func read<T>(_ body: (borrowing ReadTx) throws -> T) throws -> T {
        let tx = try beginRead()
        defer { tx.end() }
        return try body(tx)
    }

    /// Opens a read-only snapshot the caller must `end()`. Used when the snapshot has to be taken
    /// under another lock and read after releasing it.
    public func beginRead() throws -> ReadTx {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn))
        return ReadTx(backend: self, txn: txn!)
    }

    private func noteFailure(_ error: any Error) {
        if let e = error as? BackendError, e == .mapFull || e == .quotaExceeded {
            raiseNoSpaceAlarm()
        }
    }

    private static func makeDirectory(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 { return }
        // Create parents one level at a time (mkdir -p).
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += (prefix.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
            if stat(prefix, &st) != 0 && mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw BackendError.lmdb(code: errno, message: "mkdir \(prefix) failed")
            }
        }
    }
}
