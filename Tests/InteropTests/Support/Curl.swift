import Foundation

/// Plain HTTP/1.1 requests with the real `curl`.
enum Curl {
    /// GET `url`; stdout is the body, and `-w` appends nothing so the body parses as JSON.
    static func get(_ url: String) throws -> CommandResult {
        try CommandRunner.run(
            ServerBinaries.curl, ["--silent", "--show-error", "--max-time", "10", "--http1.1", url],
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 15)
    }
}

/// One answer of the JSON gateway: HTTP status and body.
struct HTTPAnswer: CustomStringConvertible {
    let status: Int
    let body: String
    var description: String { "\(status) \(body)" }
}

extension Curl {
    /// `curl -d BODY URL` as people type it (HTTP/1.1, POST, form content type); the status code is appended
    /// on a line of its own by `--write-out` and split off again.
    static func post(_ url: String, _ body: String, method: String? = nil, headers: [String] = []) throws -> HTTPAnswer {
        // Large bodies go through a file: the argument list has a size limit.
        let scratch = try ScratchDirectory(label: "curl-body")
        var data = body
        if body.utf8.count > 64 << 10 {
            let path = scratch.child("body.json")
            guard FileManager.default.createFile(atPath: path, contents: Data(body.utf8)) else {
                throw HarnessError.system("cannot write \(path)")
            }
            data = "@" + path
        }
        var arguments = ["--silent", "--show-error", "--max-time", "10", "--http1.1", "--write-out", "\n%{http_code}",
                         "--data-binary", data, url]
        if let method { arguments = ["-X", method] + arguments }
        for header in headers { arguments = ["-H", header] + arguments }
        let result = try CommandRunner.run(ServerBinaries.curl, arguments, environment: CommandRunner.cleanEnvironment(),
                                           timeoutSeconds: 15)
        guard result.exitCode == 0, let cut = result.stdout.lastIndex(of: "\n"),
              let status = Int(result.stdout[result.stdout.index(after: cut)...]) else {
            throw HarnessError.badOutput("curl \(url) failed: \(result)")
        }
        return HTTPAnswer(status: status, body: String(result.stdout[..<cut]))
    }
}
