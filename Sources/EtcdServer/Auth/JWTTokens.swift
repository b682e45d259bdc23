import Foundation
import JWTKit
import KeelConfig
import MVCC
import Synchronization

/// etcd's tokenJWT: a token carries the user and the auth revision it was issued at, signed with
/// --auth-token's key (sign-method RS*/PS*/ES*/HS*), valid for `ttl` (default 5 minutes). Any member
/// with the key verifies it without shared state; a member holding only the public key verifies but
/// cannot issue (etcd's verify-only mode). Signing and parsing are jwt-kit's.
final class JWTTokens: AuthTokenProvider {
    struct Claims: JWTPayload, Equatable {
        var username: String
        var revision: UInt64
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) throws { try exp.verifyNotExpired() }
    }

    private let keys: JWTKeyCollection
    /// The same key, for synchronous verification on the event loops (jwt-kit's collection is an actor).
    private let algorithm: any JWTAlgorithm
    private let ttl: TimeInterval
    private let canSign: Bool
    /// Tokens whose signature was verified, with their claims: a client sends the same token with every
    /// request, and a signature check (tens of microseconds for ES256/RS256) need not be repeated. Bounded;
    /// emptied when full.
    private let verified = Mutex<[String: Claims]>([:])
    private static let verifiedLimit = 4096

    private init(keys: JWTKeyCollection, algorithm: any JWTAlgorithm, ttl: TimeInterval, canSign: Bool) {
        (self.keys, self.algorithm, self.ttl, self.canSign) = (keys, algorithm, ttl, canSign)
    }

    /// etcd's jwtOptions: pub-key and priv-key are PEM files, ttl a Go duration ("5m", "30s", "1h").
    static func make(options: [String: String]) async throws(KeelServer.StartupError) -> JWTTokens {
        func fail(_ why: String) -> KeelServer.StartupError { KeelServer.StartupError("auth: invalid auth options: \(why)") }
        let method = options["sign-method"] ?? ""
        var ttl: TimeInterval = 300
        if let text = options["ttl"], !text.isEmpty {
            guard let nanoseconds = GoParse.duration(text), nanoseconds > 0 else { throw fail("ttl \(text)") }
            ttl = TimeInterval(nanoseconds) / 1e9
        }
        /// A key file's bytes (an HMAC secret is any bytes; PEM keys are text).
        func read(_ key: String) throws(KeelServer.StartupError) -> Data? {
            guard let path = options[key], !path.isEmpty else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(key) \(path)") }
            return data
        }
        let privateKey = try read("priv-key"), publicKey = try read("pub-key")
        let privatePEM = privateKey.map { String(decoding: $0, as: UTF8.self) }
        let publicPEM = publicKey.map { String(decoding: $0, as: UTF8.self) }
        let digest: DigestAlgorithm
        switch method.suffix(3) {
        case "256": digest = .sha256
        case "384": digest = .sha384
        case "512": digest = .sha512
        default: throw KeelServer.StartupError("auth: invalid auth signature method")
        }
        let keys = JWTKeyCollection()
        var canSign = privatePEM != nil
        do {
            switch method.prefix(2) {
            case "RS", "PS":
                let key: any RSAKey
                if let privatePEM { key = try Insecure.RSA.PrivateKey(pem: privatePEM) }
                else if let publicPEM { key = try Insecure.RSA.PublicKey(pem: publicPEM) }
                else { throw fail("missing key data") }
                if method.hasPrefix("RS") { await keys.add(rsa: key, digestAlgorithm: digest) }
                else { await keys.add(pss: key, digestAlgorithm: digest) }
            case "ES":
                switch (method, privatePEM, publicPEM) {
                case ("ES256", let p?, _): await keys.add(ecdsa: try ES256PrivateKey(pem: p))
                case ("ES256", nil, let p?): await keys.add(ecdsa: try ES256PublicKey(pem: p))
                case ("ES384", let p?, _): await keys.add(ecdsa: try ES384PrivateKey(pem: p))
                case ("ES384", nil, let p?): await keys.add(ecdsa: try ES384PublicKey(pem: p))
                case ("ES512", let p?, _): await keys.add(ecdsa: try ES512PrivateKey(pem: p))
                case ("ES512", nil, let p?): await keys.add(ecdsa: try ES512PublicKey(pem: p))
                default: throw fail("missing key data")
                }
            case "HS":
                // etcd's HMAC key is the priv-key file's bytes.
                guard let secret = privateKey else { throw fail("missing key data") }
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
                canSign = true
            default:
                throw KeelServer.StartupError("auth: invalid auth signature method")
            }
            return JWTTokens(keys: keys, algorithm: try await keys.getKey(), ttl: ttl, canSign: canSign)
        } catch let e as KeelServer.StartupError {
            throw e
        } catch {
            throw fail("\(error)")
        }
    }

    func token(for name: String, simpleToken: String, revision: UInt64,
               _ done: @escaping @Sendable (Result<String, EtcdServerError>) -> Void) {
        guard canSign else {
            return done(.failure(EtcdServerError(.unknown, "auth: token signing attempted with verify-only key")))
        }
        let claims = Claims(username: name, revision: revision,
                            exp: ExpirationClaim(value: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + ttl).rounded(.down))))
        let keys = self.keys
        Task {
            do { done(.success(try await keys.sign(claims))) } catch {
                done(.failure(EtcdServerError(.unknown, "failed to sign a JWT token: \(error)")))
            }
        }
    }

    func applied(name: String, simpleToken: String) {}

    func lookup(_ token: String, revision: UInt64, appliedIndex: UInt64) -> TokenLookup {
        if let claims = verified.withLock({ $0[token] }) {
            guard (try? claims.exp.verifyNotExpired()) != nil else { return .invalid }
            return .valid(AuthCaller(username: claims.username, revision: claims.revision))
        }
        let bytes = Array(token.utf8)
        guard let (header, claims, signature) = try? DefaultJWTParser().parse(bytes, as: Claims.self),
              header.alg == algorithm.name,
              let dot = bytes.lastIndex(of: UInt8(ascii: ".")),
              (try? algorithm.verify(signature, signs: bytes[..<dot])) == true,
              (try? claims.exp.verifyNotExpired()) != nil else { return .invalid }
        verified.withLock { cache in
            if cache.count >= Self.verifiedLimit { cache.removeAll(keepingCapacity: true) }
            cache[token] = claims
        }
        return .valid(AuthCaller(username: claims.username, revision: claims.revision))
    }

    func invalidate(user: String) {}
    func disable() {}
}
