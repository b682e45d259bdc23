import Foundation
import Testing

/// Auth tokens held across permission and password changes, side by side with real etcd 3.4: through the JSON
/// gateway (`/v3/auth/authenticate`, then an `Authorization` header), through gRPC metadata (python3-etcd3 keeps
/// the token it got), and JWT tokens (`--auth-token jwt,...`), which carry the auth revision they were made at.
@Suite struct AuthTokenTests {
    private static func compare(_ answers: [[String]], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answers[0].count == answers[1].count, sourceLocation: sourceLocation)
        for (e, s) in zip(answers[0], answers[1]) {
            #expect(e == s, "etcd: \(e)\nsubject: \(s)", sourceLocation: sourceLocation)
        }
    }

    /// Simple tokens: a token answers with the user's permissions of the moment (a revoked permission refuses,
    /// a re-granted one serves), and a password change, deleting the user, or disabling auth ends it.
    @Test func gatewayTokenFollowsPermissionChangesAsEtcdDoes() throws {
        let pair = try AuthPair(label: "auth-gateway")
        let seedKey = #"{"key":"L3Avc2VlZA=="}"#  // /p/seed
        let outside = #"{"key":"L3g="}"#  // /x
        let answers = try pair.bothAtOnce { server -> [String] in
            var out: [String] = []
            @discardableResult func post(_ label: String, _ path: String, _ body: String, token: String? = nil) throws -> HTTPAnswer {
                let answer = try AuthGateway.post(server, path, body, token: token)
                out.append("\(label): \(AuthGateway.normalised(answer))")
                return answer
            }
            try post("authenticate before auth is enabled", "/v3/auth/authenticate", #"{"name":"alice","password":"apw"}"#)
            return out
        }
        Self.compare(answers)
        #expect(answers[0] == [#"authenticate before auth is enabled: 412 {"code":9,"error":"etcdserver: authentication is not enabled","message":"etcdserver: authentication is not enabled"}"#],
                "\(answers[0])")

        try AuthInteropTests.setUp(pair)
        let later = try pair.bothAtOnce { server -> [String] in
            var out: [String] = []
            let root = pair.etcdctl(server, user: AuthInteropTests.root)
            @discardableResult func post(_ label: String, _ path: String, _ body: String, token: String? = nil) throws -> HTTPAnswer {
                let answer = try AuthGateway.post(server, path, body, token: token)
                out.append("\(label): \(AuthGateway.normalised(answer))")
                return answer
            }
            try post("wrong password", "/v3/auth/authenticate", #"{"name":"alice","password":"nope"}"#)
            let token = AuthGateway.token(of: try post("authenticate", "/v3/auth/authenticate", #"{"name":"alice","password":"apw"}"#))
            out.append("token is a non-empty string: \(token.map { !$0.isEmpty } ?? false)")
            try post("range in the role", "/v3/kv/range", seedKey, token: token)
            try post("put in the role", "/v3/kv/put", #"{"key":"L3AvZw==","value":"Zw=="}"#, token: token)
            try post("range outside the role", "/v3/kv/range", outside, token: token)
            try post("no token", "/v3/kv/range", outside)
            try post("a token never issued", "/v3/kv/range", outside, token: "garbage")
            try post("user list as alice", "/v3/auth/user/list", "{}", token: token)
            try root.succeed(["role", "revoke-permission", "rw", "/p/", "--prefix"])
            try post("range after its permission was revoked", "/v3/kv/range", seedKey, token: token)
            try root.succeed(["role", "grant-permission", "rw", "read", "/p/", "--prefix"])
            try post("range after it was granted again", "/v3/kv/range", seedKey, token: token)
            try root.succeed(["user", "passwd", "alice", "--interactive=false"], stdin: "apw2\n")
            try post("range after a password change", "/v3/kv/range", seedKey, token: token)
            let second = AuthGateway.token(of: try post("authenticate again", "/v3/auth/authenticate",
                                                        #"{"name":"alice","password":"apw2"}"#))
            out.append("the new token differs: \(second != nil && second != token)")
            try post("range with the new token", "/v3/kv/range", seedKey, token: second)
            let rootToken = AuthGateway.token(of: try post("authenticate root", "/v3/auth/authenticate",
                                                           #"{"name":"root","password":"rootpw"}"#))
            try post("user list as root", "/v3/auth/user/list", "{}", token: rootToken)
            try post("role get as root", "/v3/auth/role/get", #"{"role":"rw"}"#, token: rootToken)
            try post("user delete as root", "/v3/auth/user/delete", #"{"name":"alice"}"#, token: rootToken)
            try post("range after the user was deleted", "/v3/kv/range", seedKey, token: second)
            try post("auth disable", "/v3/auth/disable", "{}", token: rootToken)
            try post("range without a token once disabled", "/v3/kv/range", seedKey)
            try post("auth enable again", "/v3/auth/enable", "{}")
            try post("range with root's token from before the disable", "/v3/kv/range", seedKey, token: rootToken)
            return out
        }
        Self.compare(later)
        let etcd = later[0].joined(separator: "\n")
        for line in [
            #"wrong password: 400 {"code":3,"error":"etcdserver: authentication failed, invalid user ID or password""#,
            #"range outside the role: 403 {"code":7,"error":"etcdserver: permission denied""#,
            #"no token: 400 {"code":3,"error":"etcdserver: user name is empty""#,
            #"a token never issued: 401 {"code":16,"error":"etcdserver: invalid auth token""#,
            #"range after its permission was revoked: 403 {"code":7,"error":"etcdserver: permission denied""#,
            #"range after it was granted again: 200 {"count":"1","header":{"revision":"4"},"kvs""#,
            #"range after a password change: 401 {"code":16,"error":"etcdserver: invalid auth token""#,
            #"range after the user was deleted: 401 {"code":16,"error":"etcdserver: invalid auth token""#,
            #"range with root's token from before the disable: 401 {"code":16,"error":"etcdserver: invalid auth token""#,
        ] {
            #expect(etcd.contains(line), "etcd's answers lack \(line):\n\(etcd)")
        }
    }

    /// The gateway's watch stream checks the token as the gRPC Watch does: a range the user may not read, no
    /// token, or an unknown one give a created-and-canceled response naming the gRPC error; a permitted range
    /// is created and streams.
    @Test func gatewayWatchChecksTheTokenAsEtcdDoes() throws {
        let pair = try AuthPair(label: "auth-gateway-watch")
        try AuthInteropTests.setUp(pair)
        let answers = try pair.bothAtOnce { server -> [String] in
            let token = AuthGateway.token(of: try AuthGateway.post(server, "/v3/auth/authenticate",
                                                                   #"{"name":"alice","password":"apw"}"#)) ?? ""
            var out: [String] = []
            for (label, auth, body) in [
                ("outside the role", token, #"{"create_request":{"key":"L3g="}}"#),
                ("no token", nil, #"{"create_request":{"key":"L3g="}}"#),
                ("unknown token", "garbage", #"{"create_request":{"key":"L3Av","range_end":"L3Aw"}}"#),
                ("in the role", token, #"{"create_request":{"key":"L3Av","range_end":"L3Aw","start_revision":"1"}}"#),
            ] as [(String, String?, String)] {
                var args = ["--http1.1", "--data-binary", body]
                if let auth { args += ["-H", "Authorization: \(auth)"] }
                let watch = try WatchProcess.curl(args + [server.clientURL + "/v3/watch"])
                let lines = label == "in the role" ? 2 : 1  // created, then the seed's PUT event
                let complete = watch.waitFor(timeoutSeconds: 5) { stdout, _ in stdout.split(separator: "\n").count >= lines }
                _ = watch.stop()
                out.append("\(label): \(complete ? "" : "incomplete ")\(AuthGateway.normalisedStream(watch.stdout))")
            }
            return out
        }
        Self.compare(answers)
        let canceled = #"{"result":{"cancel_reason":"rpc error: code = %@","canceled":true,"created":true,"header":{"revision":"3"},"watch_id":"-1"}}"#
        #expect(Array(answers[0].prefix(3)) == [
            "outside the role: " + canceled.replacingOccurrences(of: "%@", with: "PermissionDenied desc = etcdserver: permission denied"),
            "no token: " + canceled.replacingOccurrences(of: "%@", with: "InvalidArgument desc = etcdserver: user name is empty"),
            "unknown token: " + canceled.replacingOccurrences(of: "%@", with: "Unauthenticated desc = etcdserver: invalid auth token"),
        ], "\(answers[0])")
        #expect(answers[0].last?.contains(#""key":"L3Avc2VlZA==""#) == true, "\(answers[0])")
    }

    /// Users, roles, permissions and the enabled flag are on disk. A simple token lives in memory only, but etcd
    /// hands it out through a Raft entry (InternalAuthenticateRequest carrying the token), and a restart replays
    /// the entries after the last snapshot: the token is assigned again and still serves.
    @Test func authAndReplayedSimpleTokensSurviveARestart() throws {
        let pair = try AuthPair(label: "auth-restart")
        try AuthInteropTests.setUp(pair)
        let tokens = try pair.bothAtOnce { server in
            AuthGateway.token(of: try AuthGateway.post(server, "/v3/auth/authenticate", #"{"name":"alice","password":"apw"}"#)) ?? ""
        }
        try pair.restart()
        let answers = try pair.bothAtOnce { server -> [String] in
            let old = tokens[server === pair.etcd ? 0 : 1]
            return [
                "old token: " + AuthGateway.normalised(try AuthGateway.post(server, "/v3/kv/range", #"{"key":"L3Avc2VlZA=="}"#, token: old)),
            ]
        }
        Self.compare(answers)
        #expect(answers[0] == [#"old token: 200 {"count":"1","header":{"revision":"3"},"kvs":[{"create_revision":"2","key":"L3Avc2VlZA==","mod_revision":"2","value":"YmVmb3JlLWF1dGg=","version":"1"}]}"#],
                "\(answers[0])")
        let root = AuthInteropTests.root, alice = AuthInteropTests.alice
        try pair.play([
            CtlStep(["get", "/p/seed", "--print-value-only"], user: alice, "before-auth\n"),
            CtlStep(["get", "/x"], user: alice, "Error: etcdserver: permission denied"),
            CtlStep(["get", "/x"], "Error: etcdserver: user name is empty"),
            CtlStep(["user", "list"], user: root, "alice\nroot\n"),
            CtlStep(["user", "get", "alice", "--detail"], user: root, "User: alice\n\nRole rw\nKV Read:\n\t[/p/, /p0) (prefix /p/)\n\t[/r, /t)\n\t[/z, <open ended>\nKV Write:\n\t[/p/, /p0) (prefix /p/)\n\t/w\n"),
            CtlStep(["get", "/p/seed"], user: "alice:wrong", "Error: etcdserver: authentication failed, invalid user ID or password"),
        ])
    }

    /// The same over gRPC: python3-etcd3 authenticates once and sends its token in the metadata of each call
    /// (over TLS: grpc sends call credentials only on a secure channel).
    @Test func grpcTokenFollowsPermissionChangesAsEtcdDoes() throws {
        let pair = try AuthPair(label: "auth-grpc-token", certs: try TestCertificates())
        try AuthInteropTests.setUp(pair)
        let results = try AuthPython.both(pair, """
            a = client("alice", "apw")
            r = client("root", "rootpw")
            out(a.get("/p/seed")[0].decode())
            out(err(lambda: a.get("/x")))
            out(err(lambda: client("alice", "nope")))
            out(err(lambda: client().get("/p/seed")))  # no token: the certificate's CN, "client", is no user
            out(err(lambda: r.auth_stub.RoleRevokePermission(
                etcdrpc.AuthRoleRevokePermissionRequest(role="rw", key=b"/p/", range_end=b"/p0"), 10, metadata=r.metadata)))
            out(err(lambda: a.get("/p/seed")))
            out(err(lambda: r.auth_stub.RoleGrantPermission(etcdrpc.AuthRoleGrantPermissionRequest(
                name="rw", perm=etcdrpc.auth__pb2.Permission(permType=0, key=b"/p/", range_end=b"/p0")), 10, metadata=r.metadata)))
            out([a.get("/p/seed")[0].decode(), err(lambda: a.put("/p/seed", "x"))])
            out(err(lambda: a.auth_stub.UserList(etcdrpc.AuthUserListRequest(), 10, metadata=a.metadata)))
            out(list(r.auth_stub.UserList(etcdrpc.AuthUserListRequest(), 10, metadata=r.metadata).users))
            out(err(lambda: r.auth_stub.UserChangePassword(
                etcdrpc.AuthUserChangePasswordRequest(name="alice", password="apw2"), 10, metadata=r.metadata)))
            out(err(lambda: a.get("/p/seed")))
            out(client("alice", "apw2").get("/p/seed")[0].decode())
            """)
        for result in results { #expect(result.exitCode == 0, "\(result)") }
        Self.compare(results.map { $0.stdout.split(separator: "\n").map(String.init) })
        #expect(results[0].stdout == """
            "before-auth"
            ["_InactiveRpcError", "StatusCode.PERMISSION_DENIED", "etcdserver: permission denied"]
            ["_InactiveRpcError", "StatusCode.INVALID_ARGUMENT", "etcdserver: authentication failed, invalid user ID or password"]
            ["_InactiveRpcError", "StatusCode.PERMISSION_DENIED", "etcdserver: permission denied"]
            "ok"
            ["_InactiveRpcError", "StatusCode.PERMISSION_DENIED", "etcdserver: permission denied"]
            "ok"
            ["before-auth", ["_InactiveRpcError", "StatusCode.PERMISSION_DENIED", "etcdserver: permission denied"]]
            ["_InactiveRpcError", "StatusCode.PERMISSION_DENIED", "etcdserver: permission denied"]
            ["alice", "root"]
            "ok"
            ["_InactiveRpcError", "StatusCode.UNAUTHENTICATED", "etcdserver: invalid auth token"]
            "before-auth"

            """, "\(results[0])")
    }

    /// JWT tokens (`--auth-token jwt,pub-key=…,priv-key=…,sign-method=…,ttl=…`): the token names the user and
    /// the auth revision it was issued at, and is refused once any auth change moved the revision on, with
    /// "revision of auth store is old"; etcdctl, which authenticates anew, is served.
    @Test(arguments: ["ES256", "ES384", "RS256", "PS256", "HS256"])
    func jwtTokenIssuedBeforeAnAuthChangeIsRefusedAsOld(signMethod: String) throws {
        let keys = try ScratchDirectory(label: "jwt-keys")
        let ec = "openssl ecparam -name %@ -genkey -noout -out k.pem && openssl ec -in k.pem -pubout -out k.pub"
        let make = [
            "ES256": ec.replacingOccurrences(of: "%@", with: "prime256v1"),
            "ES384": ec.replacingOccurrences(of: "%@", with: "secp384r1"),
            "RS256": "openssl genrsa -out k.pem 2048 && openssl rsa -in k.pem -pubout -out k.pub",
            "PS256": "openssl genrsa -out k.pem 2048 && openssl rsa -in k.pem -pubout -out k.pub",
            "HS256": "openssl rand -out k.pem 32",  // HMAC: priv-key is the shared secret, no pub-key
        ][signMethod]!
        let made = try CommandRunner.run("/bin/bash", ["-c", "cd \(keys.path) && (\(make)) 2>/dev/null"], timeoutSeconds: 30)
        #expect(made.exitCode == 0, "\(made)")
        let pub = signMethod.hasPrefix("HS") ? "" : "pub-key=\(keys.child("k.pub")),"
        let option = "jwt,\(pub)priv-key=\(keys.child("k.pem")),sign-method=\(signMethod),ttl=5m"
        let pair = try AuthPair(label: "auth-jwt", extraFlags: ["--auth-token", option])
        try AuthInteropTests.setUp(pair)
        let seedKey = #"{"key":"L3Avc2VlZA=="}"#
        let answers = try pair.bothAtOnce { server -> [String] in
            var out: [String] = []
            let answer = try AuthGateway.post(server, "/v3/auth/authenticate", #"{"name":"alice","password":"apw"}"#)
            out.append("authenticate: \(AuthGateway.normalised(answer))")
            let token = AuthGateway.token(of: answer) ?? ""
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            out.append("parts: \(parts.count)")
            if parts.count == 3 {
                let header = (try? JSONComparison.parse(Self.jsonOfBase64URL(parts[0]))) ?? [:]
                let sorted = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
                out.append("header: \(String(decoding: sorted, as: UTF8.self))")
                var claims = (try? JSONComparison.parse(Self.jsonOfBase64URL(parts[1]))) as? [String: Any] ?? [:]
                let exp = (claims.removeValue(forKey: "exp") as? NSNumber)?.doubleValue ?? 0
                let ttl = exp - Date().timeIntervalSince1970
                out.append("expires in about 5 minutes: \(ttl > 280 && ttl <= 301)")
                let data = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
                out.append("claims: \(String(decoding: data, as: UTF8.self))")
            }
            func range(_ label: String) throws {
                out.append("\(label): \(AuthGateway.normalised(try AuthGateway.post(server, "/v3/kv/range", seedKey, token: token)))")
            }
            try range("range")
            try pair.etcdctl(server, user: AuthInteropTests.root).succeed(["role", "grant-permission", "rw", "read", "/q"])
            try range("range after another permission was granted")
            let fresh = try pair.etcdctl(server, user: AuthInteropTests.alice).run(["get", "/p/seed", "--print-value-only"])
            out.append("etcdctl: exit \(fresh.exitCode ?? -1) \(fresh.stdout) \(fresh.etcdctlErrorLines)")
            return out
        }
        Self.compare(answers)
        #expect(answers[0].dropFirst() == [
            "parts: 3",
            #"header: {"alg":"\#(signMethod)","typ":"JWT"}"#,
            "expires in about 5 minutes: true",
            #"claims: {"revision":11,"username":"alice"}"#,
            #"range: 200 {"count":"1","header":{"revision":"3"},"kvs":[{"create_revision":"2","key":"L3Avc2VlZA==","mod_revision":"2","value":"YmVmb3JlLWF1dGg=","version":"1"}]}"#,
            #"range after another permission was granted: 400 {"code":3,"error":"etcdserver: revision of auth store is old","message":"etcdserver: revision of auth store is old"}"#,
            "etcdctl: exit 0 before-auth\n []",
        ], "\(answers[0])")
    }

    private static func jsonOfBase64URL(_ part: Substring) -> String {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).map { String(decoding: $0, as: UTF8.self) } ?? "<not base64: \(part)>"
    }
}
