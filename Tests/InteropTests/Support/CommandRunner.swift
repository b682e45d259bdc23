import Foundation

/// How a child process ended.
enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(_ process: Process) {
        precondition(!process.isRunning, "exit status of a running process")
        switch process.terminationReason {
        case .exit: self = .exited(process.terminationStatus)
        case .uncaughtSignal: self = .signaled(process.terminationStatus)
        @unknown default: self = .exited(process.terminationStatus)
        }
    }

    var description: String {
        switch self {
        case .exited(let code): return "exit(\(code))"
        case .signaled(let signal): return "signal(\(signal))"
        }
    }
}

/// What a finished short-lived command produced.
struct CommandResult: Sendable, CustomStringConvertible {
    let status: ExitStatus
    let stdout: String
    let stderr: String

    var exitCode: Int32? {
        if case .exited(let code) = status { return code }
        return nil
    }

    var description: String { "status: \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs short-lived commands (etcdctl, python, curl, a keel that should refuse to start).
/// Output goes to files, not pipes: the child can never block on a full pipe and no reader
/// threads are needed; the files are read once the process is gone.
enum CommandRunner {
    /// Output beyond this is a bug in the test (these commands print a few KiB at most).
    static let outputLimitBytes = 4 << 20

    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: String? = nil,
        timeoutSeconds: Double = 15
    ) throws -> CommandResult {
        precondition(timeoutSeconds > 0)
        let scratch = try ScratchDirectory(label: "cmd")
        let stdoutPath = scratch.child("stdout")
        let stderrPath = scratch.child("stderr")
        let stdinPath = scratch.child("stdin")
        for path in [stdoutPath, stderrPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw HarnessError.system("cannot create \(path)")
            }
        }
        guard FileManager.default.createFile(atPath: stdinPath, contents: Data((stdin ?? "").utf8)) else {
            throw HarnessError.system("cannot create \(stdinPath)")
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        guard let output = FileHandle(forWritingAtPath: stdoutPath),
              let errors = FileHandle(forWritingAtPath: stderrPath),
              let input = FileHandle(forReadingAtPath: stdinPath)
        else { throw HarnessError.system("cannot open redirection files in \(scratch.path)") }
        defer {
            try? output.close()
            try? errors.close()
            try? input.close()
        }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input

        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw HarnessError.system("cannot launch \(executable): \(error)")
        }

        if exited.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
            let partial = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw HarnessError.timedOut(
                "\(executable) \(arguments.joined(separator: " ")) after \(timeoutSeconds)s; stderr: \(partial)")
        }
        return CommandResult(
            status: ExitStatus(process),
            stdout: try readBounded(stdoutPath),
            stderr: try readBounded(stderrPath))
    }

    private static func readBounded(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count <= outputLimitBytes else {
            throw HarnessError.badOutput("\(path) holds \(data.count) bytes, over the \(outputLimitBytes) limit")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The inherited environment minus variables that would change etcd/etcdctl behaviour behind
    /// the test's back (ETCD_*, ETCDCTL_*), plus `extra`.
    static func cleanEnvironment(adding extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("ETCD_") && !$0.key.hasPrefix("ETCDCTL_")
        }
        environment.merge(extra) { _, new in new }
        return environment
    }
}
