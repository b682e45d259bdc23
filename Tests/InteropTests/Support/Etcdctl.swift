/// Runs the real `etcdctl` (v3 API) against one server.
struct Etcdctl {
    let endpoint: String
    /// Flags placed before the command (e.g. `--cacert ... --cert ... --key ...` for a TLS endpoint).
    var flags: [String] = []

    init(_ server: ServerProcess) { endpoint = server.endpoint }
    init(endpoint: String, flags: [String] = []) {
        self.endpoint = endpoint
        self.flags = flags
    }

    /// `etcdctl --endpoints E [-w json] ARGS`, with `stdin` piped in (for `txn`).
    func run(_ arguments: [String], json: Bool = false, stdin: String? = nil) throws -> CommandResult {
        var full = ["--endpoints", endpoint, "--dial-timeout", "5s", "--command-timeout", "10s"] + flags
        if json { full += ["-w", "json"] }
        full += arguments
        return try CommandRunner.run(
            ServerBinaries.etcdctl, full,
            environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]),
            stdin: stdin, timeoutSeconds: 20)
    }

    /// Like `run`, but a non-zero exit is a harness failure carrying etcdctl's stderr.
    @discardableResult
    func succeed(_ arguments: [String], json: Bool = false, stdin: String? = nil) throws -> String {
        let result = try run(arguments, json: json, stdin: stdin)
        guard result.exitCode == 0 else {
            throw HarnessError.badOutput("etcdctl \(arguments.joined(separator: " ")) against \(endpoint) failed:\n\(result)")
        }
        return result.stdout
    }
}

extension CommandResult {
    /// etcdctl's stderr without the client library's JSON log lines (`{"level":"warn",…}`):
    /// those carry timestamps and random client ids, the `Error: …` lines are the contract.
    var etcdctlErrorLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: true)
            .map(String.init)
            .filter { !$0.hasPrefix("{") }
    }
}
