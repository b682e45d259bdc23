import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A long-running `etcdctl watch …` child: stdout and stderr drained into buffers on threads of
/// their own, stdin either /dev/null or (interactive mode) a socket the test writes lines into.
/// Tests wait for output with deadlines (`waitFor`), never for fixed times; the child is always
/// reaped, by `stop()`, `waitForExit`, or `deinit` when a test throws first.
final class WatchProcess {
    static let defaultTimeoutSeconds = 15.0
    static let stopTimeoutSeconds = 10.0

    let command: String
    private let process: Process
    private let output: WatchOutput
    private let exited = DispatchSemaphore(value: 0)
    /// The test's end of the stdin socket; -1 when not interactive or once closed.
    private var stdinDescriptor: Int32 = -1
    private(set) var exitStatus: ExitStatus?

    /// `etcdctl --endpoints E --dial-timeout 5s [-w json] watch ARGS`.
    convenience init(_ server: ServerProcess, _ arguments: [String], json: Bool = false) throws {
        try self.init(endpoint: server.endpoint, ["watch"] + arguments, json: json, interactive: false)
    }

    /// Any long-running etcdctl command (e.g. `make-mirror`), drained and reaped the same way.
    convenience init(endpoint: String, _ arguments: [String]) throws {
        try self.init(endpoint: endpoint, arguments, json: false, interactive: false)
    }

    /// `etcdctl … watch -i`: watch commands are written to stdin with `send(line:)`.
    static func interactive(_ server: ServerProcess) throws -> WatchProcess {
        try WatchProcess(endpoint: server.endpoint, ["watch", "-i"], json: false, interactive: true)
    }

    private convenience init(endpoint: String, _ arguments: [String], json: Bool, interactive: Bool) throws {
        var full = ["--endpoints", endpoint, "--dial-timeout", "5s"]
        if json { full += ["-w", "json"] }
        full += arguments
        try self.init(executable: ServerBinaries.etcdctl, full, interactive: interactive,
                      environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]))
    }

    /// Any long-running child (Patroni), drained and reaped the same way.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> WatchProcess {
        try WatchProcess(executable: executable, arguments, interactive: false, environment: environment)
    }

    var pid: Int32 { process.processIdentifier }

    /// `curl -sN ARGS` streaming a response (the gateway's watch), drained and reaped the same way.
    static func curl(_ arguments: [String]) throws -> WatchProcess {
        try WatchProcess(executable: ServerBinaries.curl, ["--silent", "--show-error", "--no-buffer"] + arguments,
                         interactive: false, environment: CommandRunner.cleanEnvironment())
    }

    private init(executable: String, _ full: [String], interactive: Bool, environment: [String: String]) throws {
        command = "\((executable as NSString).lastPathComponent) \(full.joined(separator: " "))"

        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        var stdinPair: [Int32] = [-1, -1]
        var opened: [Int32] = []
        func closeAll() { for descriptor in opened { close(descriptor) } }
        guard pipe(&stdoutPipe) == 0 else { throw HarnessError.system("pipe failed: errno \(errno)") }
        opened += stdoutPipe
        guard pipe(&stderrPipe) == 0 else {
            closeAll()
            throw HarnessError.system("pipe failed: errno \(errno)")
        }
        opened += stderrPipe
        if interactive {
            // A socket rather than a pipe: writes use MSG_NOSIGNAL, so a child that already exited
            // makes `send` fail instead of killing the test process with SIGPIPE.
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &stdinPair) == 0 else {
                closeAll()
                throw HarnessError.system("socketpair failed: errno \(errno)")
            }
            opened += stdinPair
        }
        // Close-on-exec, as in ServerProcess: children other tests start concurrently must not
        // inherit our ends, or end-of-stream would never come.
        for descriptor in opened where fcntl(descriptor, F_SETFD, FD_CLOEXEC) != 0 {
            closeAll()
            throw HarnessError.system("fcntl(FD_CLOEXEC) failed: errno \(errno)")
        }

        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = full
        process.environment = environment
        process.standardOutput = FileHandle(fileDescriptor: stdoutPipe[1], closeOnDealloc: false)
        process.standardError = FileHandle(fileDescriptor: stderrPipe[1], closeOnDealloc: false)
        process.standardInput = interactive
            ? FileHandle(fileDescriptor: stdinPair[1], closeOnDealloc: false) : FileHandle.nullDevice
        let output = WatchOutput()
        self.output = output
        let exited = self.exited
        process.terminationHandler = { _ in
            output.markExited()
            exited.signal()
        }
        do {
            try process.run()
        } catch {
            closeAll()
            throw HarnessError.system("cannot launch \(command): \(error)")
        }
        // Only the child holds the write ends (and its stdin end) now.
        close(stdoutPipe[1])
        close(stderrPipe[1])
        if interactive {
            close(stdinPair[1])
            stdinDescriptor = stdinPair[0]
        }
        output.drain(stdoutPipe[0], into: .stdout)
        output.drain(stderrPipe[0], into: .stderr)
    }

    var stdout: String { output.snapshot().stdout }
    var stderr: String { output.snapshot().stderr }

    /// stderr without the client library's JSON log lines (timestamps, random ids).
    var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init).filter { !$0.hasPrefix("{") }
    }

    /// stdout from byte `offset` on (offsets come from `stdout.utf8.count` at a known point).
    func stdout(after offset: Int) -> String {
        String(decoding: Array(output.snapshot().stdout.utf8).dropFirst(offset), as: UTF8.self)
    }

    /// Waits until `predicate(stdout, stderr)` holds; false when time runs out or the child's
    /// output ended (it exited) without the predicate holding.
    @discardableResult
    func waitFor(timeoutSeconds: Double = defaultTimeoutSeconds,
                 _ predicate: (_ stdout: String, _ stderr: String) -> Bool) -> Bool {
        output.waitUntil(deadline: .now() + timeoutSeconds) { predicate($0.stdout, $0.stderr) }
    }

    /// Waits until stdout contains `text`.
    @discardableResult
    func waitForStdout(containing text: String, timeoutSeconds: Double = defaultTimeoutSeconds) -> Bool {
        waitFor(timeoutSeconds: timeoutSeconds) { stdout, _ in stdout.contains(text) }
    }

    /// Writes `line` + "\n" to the child's stdin (interactive mode only).
    func send(line: String) throws {
        precondition(stdinDescriptor >= 0, "stdin is not open (not interactive, or closed)")
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes {
                Glibc.send(stdinDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw HarnessError.system("writing to \(command)'s stdin failed: errno \(errno)")
            }
            offset += count
        }
    }

    /// Closes the child's stdin: it reads end-of-file.
    func closeStdin() {
        guard stdinDescriptor >= 0 else { return }
        close(stdinDescriptor)
        stdinDescriptor = -1
    }

    /// Waits for the child to end by itself; nil if it still runs after `timeoutSeconds`.
    /// Its output is complete when this returns a status.
    func waitForExit(timeoutSeconds: Double = defaultTimeoutSeconds) -> ExitStatus? {
        if let exitStatus { return exitStatus }
        guard exited.wait(timeout: .now() + timeoutSeconds) == .success else { return nil }
        return reaped()
    }

    /// SIGINT (etcdctl's own clean exit: `elect` resigns, `lock` unlocks), then reap; SIGKILL if it lingers.
    @discardableResult
    func interrupt(timeoutSeconds: Double = defaultTimeoutSeconds) -> ExitStatus {
        if let exitStatus { return exitStatus }
        kill(process.processIdentifier, SIGINT)
        return waitForExit(timeoutSeconds: timeoutSeconds) ?? stop()
    }

    /// SIGKILL (a watch has nothing to flush) and reap.
    @discardableResult
    func stop() -> ExitStatus {
        if let exitStatus { return exitStatus }
        kill(process.processIdentifier, SIGKILL)
        exited.wait()
        return reaped()
    }

    private func reaped() -> ExitStatus {
        process.waitUntilExit()
        let status = ExitStatus(process)
        exitStatus = status
        // The drains end once the child's descriptors are closed: wait (bounded) so callers see all output.
        _ = output.waitUntil(deadline: .now() + Self.stopTimeoutSeconds) { $0.stdoutDone && $0.stderrDone }
        closeStdin()
        return status
    }

    /// Everything known about the child, for failure messages.
    var transcript: String {
        let snapshot = output.snapshot()
        return "\(command)\nstatus: \(exitStatus.map(\.description) ?? "running")\n--- stdout ---\n\(snapshot.stdout)"
            + "\n--- stderr ---\n\(snapshot.stderr)"
    }

    deinit {
        if exitStatus == nil && process.processIdentifier > 0 { stop() }
        closeStdin()
    }
}

/// The captured output of a WatchProcess; `changed` is signalled on every chunk, end of stream
/// and exit, so one waiter re-evaluates its predicate after each change.
final class WatchOutput: Sendable {
    enum Stream: Sendable { case stdout, stderr }

    struct Snapshot {
        var stdoutBytes: [UInt8] = []
        var stderrBytes: [UInt8] = []
        var stdoutDone = false
        var stderrDone = false
        var exited = false
        var droppedBytes = 0

        var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
        var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
    }

    /// A watch in these tests prints a few KiB; more is a runaway and is dropped (and counted).
    static let limitBytes = 4 << 20
    private static let chunkBytes = 64 << 10

    private let state = Mutex(Snapshot())
    private let changed = DispatchSemaphore(value: 0)

    func snapshot() -> Snapshot { state.withLock { $0 } }

    func markExited() {
        state.withLock { $0.exited = true }
        changed.signal()
    }

    /// Reads `descriptor` to end of stream on a thread of its own, then closes it.
    func drain(_ descriptor: Int32, into stream: Stream) {
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                state.withLock { state in
                    let room = max(0, Self.limitBytes - state.stdoutBytes.count - state.stderrBytes.count)
                    let kept = chunk[0..<min(count, room)]
                    switch stream {
                    case .stdout: state.stdoutBytes.append(contentsOf: kept)
                    case .stderr: state.stderrBytes.append(contentsOf: kept)
                    }
                    state.droppedBytes += count - kept.count
                }
                changed.signal()
            }
            close(descriptor)
            state.withLock { state in
                switch stream {
                case .stdout: state.stdoutDone = true
                case .stderr: state.stderrDone = true
                }
            }
            changed.signal()
        }
        thread.name = "keel-interop-watch-\(stream)"
        thread.start()
    }

    /// Blocks until `predicate` holds (true), or the deadline passes or both streams ended without
    /// it holding (false). One waiter at a time.
    func waitUntil(deadline: DispatchTime, _ predicate: (Snapshot) -> Bool) -> Bool {
        while true {
            let current = snapshot()
            if predicate(current) { return true }
            if current.stdoutDone && current.stderrDone { return false }
            if changed.wait(timeout: deadline) == .timedOut { return predicate(snapshot()) }
        }
    }
}
