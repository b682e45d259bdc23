import Foundation

/// curl against the JSON gateway with an `Authorization` header, as etcd's docs show it.
enum AuthGateway {
    /// POST `body` to `path`, with `token` as the Authorization header when given. TLS when `certs` is given
    /// (presenting certificate `cert`).
    static func post(_ server: ServerProcess, _ path: String, _ body: String, token: String? = nil,
                     certs: TestCertificates? = nil, cert: String = "client") throws -> HTTPAnswer {
        var args = ["--silent", "--show-error", "--max-time", "10", "--http1.1", "--write-out", "\n%{http_code}",
                    "--data-binary", body]
        if let token { args += ["-H", "Authorization: \(token)"] }
        if let certs { args += ["--cacert", certs.ca, "--cert", certs.cert(cert), "--key", certs.key(cert)] }
        args.append("\(certs == nil ? "http" : "https")://\(server.endpoint)\(path)")
        let result = try CommandRunner.run(ServerBinaries.curl, args, environment: CommandRunner.cleanEnvironment(),
                                           timeoutSeconds: 15)
        guard result.exitCode == 0, let cut = result.stdout.lastIndex(of: "\n"),
              let status = Int(result.stdout[result.stdout.index(after: cut)...]) else {
            throw HarnessError.badOutput("curl \(path) failed: \(result)")
        }
        return HTTPAnswer(status: status, body: String(result.stdout[..<cut]))
    }

    /// The token of a successful `/v3/auth/authenticate` answer, nil otherwise.
    static func token(of answer: HTTPAnswer) -> String? {
        guard answer.status == 200, let object = try? JSONComparison.parse(answer.body) as? [String: Any] else { return nil }
        return object["token"] as? String
    }

    /// A stream's JSON lines (`{"result":{"header":…,…}}`), each with the per-server header fields out, keys sorted.
    static func normalisedStream(_ stdout: String) -> String {
        stdout.split(separator: "\n").map { line -> String in
            guard var object = try? JSONComparison.parse(String(line)) as? [String: Any] else { return String(line) }
            if var result = object["result"] as? [String: Any] {
                if var header = result["header"] as? [String: Any] {
                    for field in JSONComparison.perServerFields { header.removeValue(forKey: field) }
                    result["header"] = header
                }
                object["result"] = result
            }
            guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return String(line) }
            return String(decoding: data, as: UTF8.self)
        }.joined(separator: "\n")
    }

    /// "STATUS BODY" with the per-server header fields and the token's value taken out, keys sorted: two servers'
    /// answers to the same request compare equal as text.
    static func normalised(_ answer: HTTPAnswer) -> String {
        guard var object = try? JSONComparison.parse(answer.body) as? [String: Any] else { return answer.description }
        if var header = object["header"] as? [String: Any] {
            for field in JSONComparison.perServerFields { header.removeValue(forKey: field) }
            object["header"] = header
        }
        if object["token"] != nil { object["token"] = "<token>" }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return answer.description
        }
        return "\(answer.status) \(String(decoding: data, as: UTF8.self))"
    }
}

/// python3-etcd3 scripts for auth: `client(user, password, cert)` connects (over TLS when the pair has
/// certificates); `err(f)` is "ok" or the gRPC status code and details an exception carries.
enum AuthPython {
    static func prelude(_ pair: AuthPair, _ server: ServerProcess) -> String {
        var tls = ""
        if let certs = pair.certs {
            tls = #"ca_cert="\#(certs.ca)", cert_key="\#(certs.directory)/" + cert + "-key.pem", "#
                + #"cert_cert="\#(certs.directory)/" + cert + ".pem", "#
        }
        return """
            import json, sys
            import etcd3
            from etcd3 import etcdrpc
            def client(user=None, password=None, cert="client"):
                return etcd3.client(host="127.0.0.1", port=\(server.ports.client), timeout=10, \(tls)user=user, password=password)
            def out(value):
                sys.stdout.write(json.dumps(value, sort_keys=True) + "\\n")
            def err(f):
                try:
                    f()
                    return "ok"
                except Exception as e:
                    code = e.code() if hasattr(e, "code") else None
                    details = e.details() if hasattr(e, "details") else str(e)
                    return [type(e).__name__, str(code), details]

            """
    }

    /// The script against etcd and the subject at once; their stdouts (one JSON document a line).
    static func both(_ pair: AuthPair, _ script: String) throws -> [CommandResult] {
        try pair.bothAtOnce { server in
            try CommandRunner.run(
                ServerBinaries.python, ["-c", prelude(pair, server) + script],
                environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]), timeoutSeconds: 30)
        }
    }
}
