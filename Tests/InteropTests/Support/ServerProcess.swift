import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real etcd or keel running as a child process on its own ports and data dir.
/// It is always reaped: `stop()` or `kill9()` explicitly, and `deinit` as the safety net when a
/// test throws or fails before reaching its own cleanup.
final class ServerProcess {
    static let readyMarker = "ready to serve client requests"
    static let readyTimeoutSeconds = 20.0
    static let stopTimeoutSeconds = 10.0

    let kind: ServerKind
    let ports: ServerPorts
    let dataDir: String
    private let process: Process
    private let output: OutputCapture
    private let exited = DispatchSemaphore(value: 0)
    private(set) var exitStatus: ExitStatus?

    var endpoint: String { "127.0.0.1:\(ports.client)" }
    var clientURL: String { "http://\(endpoint)" }
    var log: String { output.text }

    /// The flags of etcd's single-member quickstart, on our own ports and data dir.
    static func standardFlags(name: String = "n1", dataDir: String, ports: ServerPorts) -> [String] {
        let client = "http://127.0.0.1:\(ports.client)"
        let peer = "http://127.0.0.1:\(ports.peer)"
        return [
            "--name", name, "--data-dir", dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "\(name)=\(peer)",
        ]
    }

    /// Starts `kind` with the standard flags (plus `extraFlags`) and waits until it serves.
    static func start(_ kind: ServerKind, dataDir: String, ports: ServerPorts? = nil,
                      extraFlags: [String] = []) throws -> ServerProcess {
        let ports = try ports ?? ServerPorts.pick()
        return try ServerProcess(
            kind: kind, ports: ports, dataDir: dataDir,
            arguments: standardFlags(dataDir: dataDir, ports: ports) + extraFlags,
            environment: CommandRunner.cleanEnvironment())
    }

    /// Starts `kind` with exactly `arguments` and `environment` (which must make it listen on
    /// `ports.client` for the test to reach it), and waits until it serves.
    /// `launcher`, when given, runs the server through another program that execs it in place (e.g.
    /// `ip netns exec NS`), so the child's pid is still the server's.
    init(kind: ServerKind, ports: ServerPorts, dataDir: String, arguments: [String], environment: [String: String],
         waitUntilReady: Bool = true, launcher: [String] = []) throws {
        self.kind = kind
        self.ports = ports
        self.dataDir = dataDir

        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { throw HarnessError.system("pipe failed: errno \(errno)") }
        // Close-on-exec: children started concurrently by other tests must not inherit our write
        // end, or our reader would not see end-of-stream when this server exits. (Glibc's module
        // does not export pipe2; the window between pipe and fcntl is covered by Foundation's
        // spawn, which closes stray descriptors in the child.)
        for descriptor in descriptors {
            guard fcntl(descriptor, F_SETFD, FD_CLOEXEC) == 0 else {
                throw HarnessError.system("fcntl(FD_CLOEXEC) failed: errno \(errno)")
            }
        }
        let writeEnd = FileHandle(fileDescriptor: descriptors[1], closeOnDealloc: false)

        process = Process()
        let binary = try ServerBinaries.path(for: kind)
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.environment = environment
        process.standardOutput = writeEnd
        process.standardError = writeEnd
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        output = OutputCapture(readDescriptor: descriptors[0], marker: Self.readyMarker)
        do {
            try process.run()
        } catch {
            close(descriptors[1])
            throw HarnessError.system("cannot launch \(kind): \(error)")
        }
        close(descriptors[1])  // only the child writes now; its exit ends the stream
        self.arguments = arguments
        if waitUntilReady { try self.waitUntilReady() }
    }

    private let arguments: [String]

    /// Waits for the ready line (members of a new cluster print it only once a quorum runs, so a
    /// cluster test starts them all, then waits for each).
    func waitUntilReady() throws {
        guard output.waitForMarker(timeoutSeconds: Self.readyTimeoutSeconds) else {
            // The output ends (EOF) a moment before the exit is reaped: give the reaper a second to say which.
            let hasExited = exited.wait(timeout: .now() + 1) == .success
            if hasExited { exited.signal() }  // kill9 and stop wait on it too
            let status = hasExited ? "exited" : "still running"
            kill9()
            throw HarnessError.notReady(
                "\(kind) (\(status)) never printed '\(Self.readyMarker)' within \(Self.readyTimeoutSeconds)s; "
                    + "arguments: \(arguments.joined(separator: " "))\n--- log ---\n\(log)")
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGTERM, wait up to `stopTimeoutSeconds`, then SIGKILL. Returns how the server ended.
    @discardableResult
    func stop() -> ExitStatus {
        if let exitStatus { return exitStatus }
        kill(process.processIdentifier, SIGTERM)
        if exited.wait(timeout: .now() + Self.stopTimeoutSeconds) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
        }
        return reaped()
    }

    /// SIGKILL with no chance to clean up: the crash half of crash-recovery tests.
    @discardableResult
    func kill9() -> ExitStatus {
        if let exitStatus { return exitStatus }
        kill(process.processIdentifier, SIGKILL)
        exited.wait()
        return reaped()
    }

    /// Waits for the process to end by itself; nil if it still runs after `timeoutSeconds`.
    func waitForExit(timeoutSeconds: Double) -> ExitStatus? {
        if let exitStatus { return exitStatus }
        guard exited.wait(timeout: .now() + timeoutSeconds) == .success else { return nil }
        return reaped()
    }

    private func reaped() -> ExitStatus {
        process.waitUntilExit()
        let status = ExitStatus(process)
        exitStatus = status
        return status
    }

    deinit {
        if exitStatus == nil && process.processIdentifier > 0 { kill9() }
    }
}
