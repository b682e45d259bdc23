import Foundation
import MVCC
import Synchronization

/// What a token presented with a request stands for.
enum TokenLookup: Sendable {
    case valid(AuthCaller)
    case invalid
    /// A simple token minted by the Authenticate entry at this log index, not yet applied here: etcd waits
    /// for the index, then looks again.
    case notYetApplied(UInt64)
}

/// etcd's TokenProvider: simple tokens (state every member keeps, fed by applied Authenticate entries)
/// or JWT (self-contained, signed by the member that authenticated).
protocol AuthTokenProvider: Sendable {
    /// The token to answer for an applied Authenticate of `name` (whose simple token is `simpleToken`),
    /// on the proposer. `revision` is the auth revision at that point.
    func token(for name: String, simpleToken: String, revision: UInt64,
               _ done: @escaping @Sendable (Result<String, EtcdServerError>) -> Void)
    /// Every member: an Authenticate entry was applied.
    func applied(name: String, simpleToken: String)
    func lookup(_ token: String, revision: UInt64, appliedIndex: UInt64) -> TokenLookup
    /// A user's password changed or it was deleted: its simple tokens end.
    func invalidate(user: String)
    /// Auth was disabled: every simple token ends.
    func disable()
}

/// etcd's tokenSimple: "<16 random letters>.<log index>" → user, each expiring `ttl` after its last use.
final class SimpleTokens: AuthTokenProvider {
    private struct Entry { var user: String; var expires: ContinuousClock.Instant }
    private let tokens = Mutex<[String: Entry]>([:])
    private let ttl: Duration
    /// Bounds the table against clients that authenticate in a loop and never come back.
    private let sweepAbove = 4096

    init(ttl: Duration) { self.ttl = ttl }

    static func newPrefix() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var rng = SystemRandomNumberGenerator()
        return String(decoding: (0..<16).map { _ in letters.randomElement(using: &rng)! }, as: UTF8.self)
    }

    func token(for name: String, simpleToken: String, revision: UInt64,
               _ done: @escaping @Sendable (Result<String, EtcdServerError>) -> Void) {
        done(.success(simpleToken))
    }

    func applied(name: String, simpleToken: String) {
        let now = ContinuousClock.now
        tokens.withLock { t in
            if t.count >= sweepAbove { t = t.filter { $0.value.expires > now } }
            t[simpleToken] = Entry(user: name, expires: now + ttl)
        }
    }

    func lookup(_ token: String, revision: UInt64, appliedIndex: UInt64) -> TokenLookup {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = UInt64(parts[1]) else { return .invalid }
        let now = ContinuousClock.now
        let user: String? = tokens.withLock { t in
            guard var e = t[token] else { return nil }
            if e.expires <= now { t[token] = nil; return nil }
            e.expires = now + ttl  // each use renews it
            t[token] = e
            return e.user
        }
        if let user { return .valid(AuthCaller(username: user, revision: revision)) }
        return index > appliedIndex ? .notYetApplied(index) : .invalid
    }

    func invalidate(user: String) { tokens.withLock { t in t = t.filter { $0.value.user != user } } }

    func disable() { tokens.withLock { $0.removeAll() } }
}
