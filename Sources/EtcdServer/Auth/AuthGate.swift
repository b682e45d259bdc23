import MVCC
import RPC

/// Who a call comes from, and whether it may do what it asks (etcd's AuthInfoFromCtx and the checks of
/// its API layer). The applier checks writes again against the permissions as applied.
final class AuthGate: Sendable {
    enum Resolution {
        /// nil: no credentials (fine while auth is disabled).
        case caller(AuthCaller?)
        case refused(EtcdServerError)
        /// A simple token whose Authenticate entry this member has not applied yet.
        case waitForIndex(UInt64)
    }

    let store: MVCCStore
    let tokens: AuthTokenProvider
    let published: RaftPublished
    /// --client-cert-auth: a verified client certificate's CN names the user when no token is given.
    let clientCertAuth: Bool

    init(store: MVCCStore, tokens: AuthTokenProvider, published: RaftPublished, clientCertAuth: Bool) {
        (self.store, self.tokens, self.published, self.clientCertAuth) = (store, tokens, published, clientCertAuth)
    }

    var isEnabled: Bool { store.isAuthEnabled }

    /// A token ("token" metadata, or the gateway's Authorization header) wins over a certificate's CN,
    /// and a CN is not taken from a gateway call (etcd ignores it behind its grpc-gateway too).
    func resolve(_ call: ServerCall) -> Resolution {
        if let token = call.headers["token"] ?? call.headers["authorization"] {
            let revision = store.authRevision
            switch tokens.lookup(token, revision: revision, appliedIndex: published.applied) {
            case .valid(let caller): return .caller(caller)
            case .invalid: return .refused(EtcdServerError(.invalidAuthToken))
            case .notYetApplied(let index): return .waitForIndex(index)
            }
        }
        if clientCertAuth, let cn = call.peerCommonName {
            return .caller(AuthCaller(username: cn, revision: store.authRevision))
        }
        return .caller(nil)
    }

    /// For a resolution other than `.caller`: fails the call, or runs `retry` once this member has applied
    /// what the leader had committed (then the token's Authenticate entry is in). Kept apart from `resolve`
    /// so the hot path builds no retry closure.
    func settle(_ resolution: Resolution, _ call: ServerCall, raft: RaftLoop, retry: @escaping @Sendable () -> Void) {
        switch resolution {
        case .caller: retry()
        case .refused(let e): call.fail(e)
        case .waitForIndex:
            raft.linearizableRead { error in
                call.eventLoop.execute {
                    if let error { call.fail(error) } else { retry() }
                }
            }
        }
    }

    /// The caller when it resolves at once, else nil after `settle`.
    func caller(_ call: ServerCall, raft: RaftLoop, retry: @escaping @Sendable () -> Void) -> AuthCaller?? {
        let resolution = resolve(call)
        if case .caller(let c) = resolution { return .some(c) }
        settle(resolution, call, raft: raft, retry: retry)
        return nil
    }

    /// Runs `body` when the caller has the root role (or auth is off); otherwise fails the call.
    /// `rawAuthErrors`: etcd's maintenance server returns the auth package's own errors unconverted, so its
    /// clients see UNKNOWN and "auth: permission denied" rather than the mapped status.
    func asAdmin(_ call: ServerCall, raft: RaftLoop, rawAuthErrors: Bool = false, _ body: @escaping @Sendable () -> Void) {
        let resolution = resolve(call)
        guard case .caller(let caller) = resolution else {
            if rawAuthErrors, case .refused(let e) = resolution { return call.fail(Self.raw(e)) }
            return settle(resolution, call, raft: raft) { self.asAdmin(call, raft: raft, rawAuthErrors: rawAuthErrors, body) }
        }
        do throws(EtcdServerError) {
            try checkAdmin(caller)
            body()
        } catch {
            call.fail(rawAuthErrors ? Self.raw(error) : error)
        }
    }

    /// An auth refusal as the auth package words it, with gRPC's UNKNOWN code.
    private static func raw(_ e: EtcdServerError) -> EtcdServerError {
        let texts: [String: String] = [
            EtcdError.permissionDenied.message: "auth: permission denied",
            EtcdError.userEmpty.message: "auth: user name is empty",
            EtcdError.userNotFound.message: "auth: user not found",
            EtcdError.invalidAuthToken.message: "auth: invalid auth token",
        ]
        guard let text = texts[e.status.message] else { return e }
        return EtcdServerError(.unknown, text)
    }

    // MARK: Checks of the API layer

    func checkRead(_ caller: AuthCaller?, key: [UInt8], rangeEnd: [UInt8]) throws(EtcdServerError) {
        guard isEnabled else { return }
        try mapped { () throws(EtcdError) in try store.auth.checkRead(caller ?? .anonymous, key: key, rangeEnd: rangeEnd) }
    }

    func checkTxn(_ caller: AuthCaller?, _ t: TxnRequest) throws(EtcdServerError) {
        guard isEnabled else { return }
        try mapped { () throws(EtcdError) in try store.auth.checkTxn(caller ?? .anonymous, t) }
    }

    /// Membership changes, Hash, HashKV, Snapshot, Defragment: the root role (etcd's IsAdminPermitted).
    func checkAdmin(_ caller: AuthCaller?) throws(EtcdServerError) {
        guard isEnabled else { return }
        try mapped { () throws(EtcdError) in try store.auth.checkAdmin(caller) }
    }

    /// A serialized read answered here must not have raced an auth change (etcd's doSerialize).
    func checkUnchanged(_ caller: AuthCaller?) throws(EtcdServerError) {
        guard let caller, caller.revision != 0 else { return }
        if store.authRevision != caller.revision { throw EtcdServerError(.authOldRevision) }
    }

    private func mapped(_ body: () throws(EtcdError) -> Void) throws(EtcdServerError) {
        do { try body() } catch { throw EtcdServerError(error) }
    }
}
