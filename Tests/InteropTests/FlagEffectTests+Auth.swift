import Foundation
import Testing

/// The Auth flags' proofs: a member issuing JWTs signed with an ES256 key made by `openssl` (its bcrypt cost
/// visible in the stored hash), and a member whose simple tokens expire after --auth-token-ttl of disuse.
extension FlagEffectTests {
    func authTokens() async throws {
        try jwtTokensAndBcryptCost()
        try await simpleTokenTTL()
    }

    /// Adds root (password "pw"), enables auth, and returns the token /v3/auth/authenticate answers.
    private static func enableAuthAndAuthenticate(_ endpoint: String) throws -> String {
        let ctl = ["--endpoints", endpoint, "--dial-timeout", "2s"]
        for args in [["user", "add", "root:pw"], ["auth", "enable"]] {
            let r = try CommandRunner.run(ServerBinaries.etcdctl, ctl + args,
                                          environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]), timeoutSeconds: 30)
            try #require(r.exitCode == 0, "etcdctl \(args): \(r)")
        }
        let answer = try Curl.post(endpoint + "/v3/auth/authenticate", #"{"name":"root","password":"pw"}"#)
        try #require(answer.status == 200, "\(answer)")
        let json = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        return try #require(json?["token"] as? String, "\(answer)")
    }

    private static func put(_ endpoint: String, token: String) throws -> HTTPAnswer {
        try Curl.post(endpoint + "/v3/kv/put", #"{"key":"Zm9v","value":"YmFy"}"#, headers: ["Authorization: \(token)"])
    }

    /// --auth-token jwt,…: the token is a JWT (ES256) naming the user, and it authorizes requests; --bcrypt-cost 5:
    /// the hash in the authUsers bucket says "$2b$05$".
    private func jwtTokensAndBcryptCost() throws {
        let keys = try ScratchDirectory(label: "jwt-keys")
        let gen = try CommandRunner.run("/bin/bash", ["-c", """
            set -e; cd "$1"
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out priv.pem 2>/dev/null
            openssl pkey -in priv.pem -pubout -out pub.pem 2>/dev/null
            """, "gen", keys.path], timeoutSeconds: 30)
        try #require(gen.exitCode == 0, "\(gen)")
        let (server, ports, scratch) = try Self.startMember("auth-jwt", clientScheme: "http", peerScheme: "http", flags: [
            "--auth-token", "jwt,pub-key=\(keys.child("pub.pem")),priv-key=\(keys.child("priv.pem")),sign-method=ES256,ttl=10m",
            "--bcrypt-cost", "5",
        ])
        let endpoint = "http://127.0.0.1:\(ports.client)"
        let token = try Self.enableAuthAndAuthenticate(endpoint)
        let parts = token.split(separator: ".")
        try #require(parts.count == 3, "not a JWT: \(token)")
        let claims = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: String(parts[1]).padded()))) as? [String: Any]
        #expect(claims?["username"] as? String == "root" && claims?["revision"] != nil && claims?["exp"] != nil, "\(claims ?? [:])")
        let header = try #require(Data(base64Encoded: String(parts[0]).padded()))
        #expect(String(decoding: header, as: UTF8.self).contains(#""alg":"ES256""#))
        #expect(try Self.put(endpoint, token: token).status == 200)
        // A token signed with another key is refused as etcd refuses it.
        let forged = parts[0] + "." + parts[1] + ".AAAA"
        let refused = try Self.put(endpoint, token: String(forged))
        #expect(refused.status == 401 && refused.body.contains("etcdserver: invalid auth token"), "\(refused)")
        _ = server.stop()
        let db = try Data(contentsOf: URL(fileURLWithPath: scratch.child("data/member/snap/keel.mdb")))
        #expect(db.range(of: Data("$2b$05$".utf8)) != nil, "no bcrypt hash of cost 5 in the backend")
    }

    /// --auth-token-ttl 1: a simple token works at once, and after two idle seconds it is "invalid auth token".
    private func simpleTokenTTL() async throws {
        let (server, ports, _) = try Self.startMember("auth-ttl", clientScheme: "http", peerScheme: "http", flags: [
            "--auth-token-ttl", "1",
        ])
        defer { _ = server.stop() }
        let endpoint = "http://127.0.0.1:\(ports.client)"
        let token = try Self.enableAuthAndAuthenticate(endpoint)
        #expect(try Self.put(endpoint, token: token).status == 200)
        try await Task.sleep(nanoseconds: 2_200_000_000)  // longer than the TTL: the token is gone, whatever the load
        let expired = try Self.put(endpoint, token: token)
        #expect(expired.status == 401 && expired.body.contains("etcdserver: invalid auth token"), "\(expired)")
    }
}

private extension String {
    /// base64url → base64 with padding.
    func padded() -> String {
        var s = replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return s
    }
}
