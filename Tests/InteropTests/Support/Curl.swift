/// Plain HTTP/1.1 requests with the real `curl`.
enum Curl {
    /// GET `url`; stdout is the body, and `-w` appends nothing so the body parses as JSON.
    static func get(_ url: String) throws -> CommandResult {
        try CommandRunner.run(
            ServerBinaries.curl, ["--silent", "--show-error", "--max-time", "10", "--http1.1", url],
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 15)
    }
}
