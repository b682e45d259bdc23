/// Runs a python3-etcd3 script with Debian's `/usr/bin/python3` against one server.
enum Python {
    /// Prepended to every script: `c` is a connected client, `out(x)` prints x as one JSON line.
    static func prelude(host: String, port: UInt16) -> String {
        """
        import json, sys
        import etcd3
        from etcd3 import etcdrpc
        c = etcd3.client(host=\"\(host)\", port=\(port), timeout=10)
        def out(value):
            sys.stdout.write(json.dumps(value, sort_keys=True) + "\\n")
        def kv(meta):
            return None if meta is None else {
                "key": meta.key.decode(), "create_revision": meta.create_revision,
                "mod_revision": meta.mod_revision, "version": meta.version, "lease": meta.lease_id}
        def got(pair):
            value, meta = pair
            return None if value is None else [value.decode(), kv(meta)]

        """
    }

    static func run(_ script: String, against server: ServerProcess) throws -> CommandResult {
        try CommandRunner.run(
            ServerBinaries.python,
            ["-c", prelude(host: "127.0.0.1", port: server.ports.client) + script],
            environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]),
            timeoutSeconds: 20)
    }

    /// Runs the script and requires exit 0; returns stdout.
    static func succeed(_ script: String, against server: ServerProcess) throws -> String {
        let result = try run(script, against: server)
        guard result.exitCode == 0 else {
            throw HarnessError.badOutput("python script against \(server.kind) failed:\n\(result)")
        }
        return result.stdout
    }
}
