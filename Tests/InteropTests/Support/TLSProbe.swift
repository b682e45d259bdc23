import Foundation

/// One HTTPS request with the real `curl`, to see whether a TLS port accepts a given client certificate,
/// protocol or cipher: `accepted` when an HTTP response came back over the handshake.
enum TLSProbe {
    struct Outcome {
        let result: CommandResult
        var accepted: Bool { result.exitCode == 0 && !result.stdout.isEmpty }
    }

    /// GET https://127.0.0.1:`port``path` trusting `ca` (nil: no verification), presenting `cert` (a name in
    /// `certs`, nil: none), with any extra curl flags (`--tls-max 1.2 --ciphers X`, `--http2`, ...).
    static func get(port: UInt16, path: String = "/health", certs: TestCertificates, ca: String? = nil,
                    cert: String?, extra: [String] = [], scheme: String = "https") throws -> Outcome {
        var args = ["--silent", "--show-error", "--max-time", "5"]
        if let ca { args += ["--cacert", ca] } else { args.append("--insecure") }
        if let cert { args += ["--cert", certs.cert(cert), "--key", certs.key(cert)] }
        args += extra
        args.append("\(scheme)://127.0.0.1:\(port)\(path)")
        return Outcome(result: try CommandRunner.run(ServerBinaries.curl, args, environment: CommandRunner.cleanEnvironment(),
                                                     timeoutSeconds: 10))
    }

    /// Polls `log` (a server's output) until it contains `text`, up to `timeout` seconds: a rejection is
    /// logged by the server a moment after the client gives up.
    static func awaitLog(_ text: String, in server: ServerProcess, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if server.log.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)  // polling an external process's output
        }
        return server.log.contains(text)
    }
}
