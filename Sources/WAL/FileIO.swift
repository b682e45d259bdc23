// Thin POSIX wrappers that turn errno into WALError.io. Glibc only: no Foundation anywhere.
#if canImport(Glibc)
import Glibc
#endif

enum FileIO {
    static func fail(_ op: String, _ path: String) -> WALError {
        .io(operation: op, path: path, errno: errno)
    }

    static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    /// The directory holding `path` ("." for a bare name, "/" for a top-level entry).
    static func parent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// Opens with O_CLOEXEC, retrying on EINTR.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Whole file into memory; the caller bounds file sizes (segments are bounded).
    /// The first `limit` bytes of a file (fewer if it is shorter).
    static func readPrefix(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var failure: WALError?
        let bytes = [UInt8](unsafeUninitializedCapacity: limit) { buf, count in
            var done = 0
            while done < limit {
                let n = Glibc.pread(fd, buf.baseAddress! + done, limit - done, off_t(done))
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = fail("read", path) }
                break
            }
            count = done
        }
        if let failure { throw failure }
        return bytes
    }

    /// The whole file, for a replay; leaves none of it in the page cache (see the end).
    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("fstat", path) }
        let size = Int(st.st_size)
        var failure: WALError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var done = 0
            while done < size {
                let n = Glibc.read(fd, buf.baseAddress! + done, size - done)
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = fail("read", path) }
                break  // n == 0: the file shrank under us; keep what we read
            }
            count = done
        }
        if let failure { throw failure }
        // Drop what this read left in the page cache (clean pages only; dirty ones stay until written).
        // Readahead fills a file with large folios (up to 2 MB here on kernel 6.18), and appends into
        // a large folio pay for all its blocks: every pwrite walks its buffer heads, every fdatasync
        // walks them again to find the dirty one. Start-up reads the whole active WAL segment, its
        // preallocated rest included, so a lone client's Put cost ~10 µs more the deeper into that
        // segment it wrote (perf: ext4_block_write_begin, block_commit_write, ext4_bio_write_folio).
        // Dropped, the next append reads back its one partial block into a small folio.
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        return bytes
    }

    /// One pwrite, retried on EINTR. Returns the bytes written (> 0).
    static func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        while true {
            let n = Glibc.pwrite(fd, bytes.baseAddress!, bytes.count, off_t(offset))
            if n > 0 { return n }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { errno = EIO }
            throw fail("pwrite", path)
        }
    }

    /// pwrite until everything is written (one call in the common case). Returns the calls made.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws -> Int {
        var done = 0
        var calls = 0
        while done < bytes.count {
            done += try pwrite(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + done, path: path)
            calls += 1
        }
        return calls
    }

    static func fdatasync(_ fd: Int32, path: String) throws {
        while Glibc.fdatasync(fd) != 0 {
            if errno != EINTR { throw fail("fdatasync", path) }
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { throw fail("fsync", path) }
        }
    }

    static func truncate(_ fd: Int32, to size: Int, path: String) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw fail("ftruncate", path) }
    }

    /// Reserves blocks and extends the file to `length`, as etcd preallocates its WAL segments: an
    /// fdatasync after an append inside the reserved space then has no file size to record (with
    /// FALLOC_FL_KEEP_SIZE every append moved the size and each sync paid for it, ~20 µs here).
    /// The reserved space reads as zeros, which the scanner takes for the end of the records.
    /// Best effort: filesystems without fallocate just skip it (the file then grows as it is written).
    static func preallocate(_ fd: Int32, length: Int) {
        _ = fallocateFunction?(fd, 0, 0, off_t(length))
    }

    /// Glibc's fallocate(2) wrapper is only declared under _GNU_SOURCE, which the Swift Glibc
    /// module does not expose; look the symbol up once instead (nil where it does not exist).
    private typealias FallocateFunction = @convention(c) (Int32, Int32, off_t, off_t) -> Int32
    private static let fallocateFunction: FallocateFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "fallocate") else { return nil }
        return unsafeBitCast(sym, to: FallocateFunction.self)
    }()

    /// Makes a rename, create or unlink in `dir` durable.
    static func fsyncDirectory(_ dir: String) throws {
        let fd = try open(dir, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: dir)
    }

    static func makeDirectory(_ dir: String) throws {
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw fail("mkdir", dir) }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw fail("rename", from) }
    }

    static func unlink(_ path: String) throws {
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw fail("unlink", path) }
    }

    /// Names of the entries in `dir` (without "." and "..").
    static func listDirectory(_ dir: String) throws -> [String] {
        guard let d = opendir(dir) else { throw fail("opendir", dir) }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func fileSize(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw fail("stat", path) }
        return Int(st.st_size)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}
