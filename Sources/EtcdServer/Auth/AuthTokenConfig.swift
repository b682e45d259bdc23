/// --auth-token: "simple" (the default) or "jwt,pub-key=…,priv-key=…,sign-method=…[,ttl=…]", parsed as
/// etcd's decomposeOpts does.
enum AuthTokenConfig {
    static func provider(_ option: String, ttlSeconds: UInt64) async throws(KeelServer.StartupError) -> AuthTokenProvider {
        let parts = option.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var options: [String: String] = [:]
        for pair in parts.dropFirst() {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, kv[0].count > 0, options[kv[0]] == nil else { throw KeelServer.StartupError("auth: invalid auth options") }
            options[kv[0]] = kv[1]
        }
        switch parts.first ?? "" {
        case "simple", "":
            return SimpleTokens(ttl: .seconds(Int64(ttlSeconds == 0 ? 300 : ttlSeconds)))
        case "jwt":
            return try await JWTTokens.make(options: options)
        default:
            throw KeelServer.StartupError("auth: invalid auth options")
        }
    }
}
