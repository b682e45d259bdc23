import EtcdProto
import MVCC
import NIOCore
import RPC

/// What the lock and election services need of the store, which etcd's v3lock and v3election get
/// from a client connected to their own server: txns and deletes through Raft, lease grants, reads of
/// the applied state, and waiting for keys under a prefix to go.
struct LocalKV: Sendable {
    let context: ServerContext
    /// Whose request this serves: etcd's services call with the caller's token, so its permissions apply.
    private(set) var caller: AuthCaller?

    init(context: ServerContext) { self.context = context }

    /// This KV acting for `call`'s caller (anonymous without credentials), or nil after failing the call
    /// or arranging `retry` (see `AuthGate.caller`).
    func acting(for call: ServerCall, retry: @escaping @Sendable () -> Void) -> LocalKV? {
        guard let resolved = context.auth.caller(call, raft: context.raft, retry: retry) else { return nil }
        var kv = self
        kv.caller = resolved ?? .anonymous
        return kv
    }

    typealias Done<T> = @Sendable (Result<T, EtcdServerError>) -> Void

    /// Proposes `t`; `done` gets its response and revision, on `eventLoop`.
    func txn(_ t: TxnRequest, on eventLoop: EventLoop, _ done: @escaping Done<(TxnResponse, Int64)>) {
        propose(RequestEncoding.txn(t), field: .txn, on: eventLoop) { result in
            done(result.flatMap { r in
                guard case .applied(.txn(let response)) = r.outcome else { return .failure(Self.failure(r)) }
                return .success((response, r.revision))
            })
        }
    }

    /// Deletes `key`; `done` gets the revision after it.
    func delete(_ key: [UInt8], on eventLoop: EventLoop, _ done: @escaping Done<Int64>) {
        propose(RequestEncoding.deleteRange(DeleteRangeRequest(key: key)), field: .deleteRange, on: eventLoop) { result in
            done(result.flatMap { r in r.error.map { .failure(EtcdServerError($0)) } ?? .success(r.revision) })
        }
    }

    /// Grants a lease with a server-chosen id (etcd's concurrency.NewSession without a lease: 60 s).
    func grantLease(ttl: Int64, on eventLoop: EventLoop, _ done: @escaping Done<Int64>) {
        let leaseID = Int64(bitPattern: context.nextRequestID() & (UInt64.max >> 1))
        let requestID = context.nextRequestID()
        submit(InternalRequestCodec.leaseGrant(requestID: requestID, leaseID: leaseID, ttl: ttl, caller: caller), id: requestID,
               on: eventLoop) { result in
            done(result.flatMap { r in
                guard case .applied(.leaseGrant(let id, _)) = r.outcome else { return .failure(Self.failure(r)) }
                return .success(id)
            })
        }
    }

    private func propose(_ request: [UInt8], field: InternalRequestCodec.Field, on eventLoop: EventLoop,
                         _ done: @escaping Done<ApplyResult>) {
        let id = context.nextRequestID()
        let data = request.withUnsafeBytes { InternalRequestCodec.encode(id: id, field: field, request: $0, caller: caller) }
        submit(data, id: id, on: eventLoop, done)
    }

    private func submit(_ data: [UInt8], id: UInt64, on eventLoop: EventLoop, _ done: @escaping Done<ApplyResult>) {
        if context.published.isLearner { return done(.failure(.learnerNotSupported)) }
        if let error = context.propose(data, id: id, on: eventLoop, done: { r in done(.success(r)) }) {
            done(.failure(error))
        }
    }

    private static func failure(_ r: ApplyResult) -> EtcdServerError {
        r.error.map { EtcdServerError($0) } ?? EtcdServerError(.internal, "etcdserver: unexpected apply result")
    }

    // MARK: Reads of the applied state

    /// The oldest key under `prefix` (etcd's WithFirstCreate), as applied here.
    func firstCreated(_ prefix: [UInt8]) throws(EtcdServerError) -> KeyValue? {
        try read(Self.firstCreatedRequest(prefix)).kvs.first
    }

    /// Whether a key under `prefix` was created at or before `revision` (etcd's waitDeletes condition).
    func anyCreated(_ prefix: [UInt8], atOrBefore revision: Int64) throws(EtcdServerError) -> Bool {
        // The oldest key decides (a count would not do: etcd counts before the create-revision filter).
        guard revision > 0, let oldest = try firstCreated(prefix) else { return false }
        return oldest.createRevision <= revision
    }

    static func firstCreatedRequest(_ prefix: [UInt8]) -> RangeRequest {
        RangeRequest(key: prefix, rangeEnd: prefixRangeEnd(prefix), limit: 1, sortOrder: .ascend, sortTarget: .create)
    }

    private func read(_ r: RangeRequest) throws(EtcdServerError) -> RangeResponse {
        if let caller { try context.auth.checkRead(caller, key: r.key, rangeEnd: r.rangeEnd) }
        do { return try context.store.range(r) } catch { throw EtcdServerError(error) }
    }
}

/// etcd's lock and election servers call the KV through a client, so what fails there reaches their
/// callers as a plain error: gRPC's UNKNOWN code with the error's text.
func clientError(_ e: EtcdServerError) -> EtcdServerError {
    e.status.code == .unknown ? e : EtcdServerError(.unknown, e.status.message)
}

/// Answers a write whose response holds only a header (Proclaim, Resign, Unlock): at the revision the
/// write left, or the write's error as etcd's client-backed servers return it.
func respondWithHeader<M>(_ call: ServerCall, _ result: Result<Int64, EtcdServerError>, context: ServerContext,
                          _ initialize: (UnsafeMutablePointer<M>) -> Void,
                          header: WritableKeyPath<M, UnsafeMutablePointer<Etcdserverpb__ResponseHeader>?>) {
    switch result {
    case .success(let revision):
        call.respond { b in
            let m = b.arena.message(initialize)
            m.pointee[keyPath: header] = b.header(context.header(revision: revision))
            return m
        }
    case .failure(let e):
        call.fail(clientError(e))
    }
}

/// Calls `onChange` on its event loop after every applied batch touching keys under a prefix (deletes
/// only, if asked). Registered before the caller first reads, so no change after that read is missed.
final class PrefixWatch: WatchSink, @unchecked Sendable {  // mutable state confined to the event loop
    private let spec: WatchSpec
    private let hub: WatchHub
    private let eventLoop: EventLoop
    private let onChange: () -> Void
    private var key: UInt64?
    private var stopped = false

    init(prefix: [UInt8], deletesOnly: Bool, hub: WatchHub, eventLoop: EventLoop, onChange: @escaping () -> Void) {
        let end = prefixRangeEnd(prefix)
        spec = WatchSpec(key: prefix, rangeEnd: end, span: KeySpan(key: prefix, rangeEnd: end), noPut: deletesOnly,
                         noDelete: false, prevKV: false, progressNotify: false, fragment: false)
        self.hub = hub
        self.eventLoop = eventLoop
        self.onChange = onChange
    }

    /// Joins the hub; false when the server's watcher bound is reached.
    func start() -> Bool {
        key = hub.add(WatchHub.Watcher(watchID: 0, spec: spec, minRevision: 0, sink: self))
        return key != nil
    }

    func stop() {
        stopped = true
        if let key { hub.remove(key) }
        key = nil
    }

    func deliver(watchID: Int64, events: [Event], revision: Int64) {
        eventLoop.execute { if !self.stopped { self.onChange() } }
    }

    /// The store was replaced: join again and look afresh.
    func resync(watchID: Int64, from revision: Int64) {
        eventLoop.execute {
            guard !self.stopped else { return }
            self.key = self.hub.add(WatchHub.Watcher(watchID: 0, spec: self.spec, minRevision: 0, sink: self))
            self.onChange()
        }
    }
}

/// etcd's waitDeletes: finishes once no key under `prefix` was created at or before `revision`, i.e.
/// every earlier holder of a lock (or candidate of an election) is gone. Event loop only.
final class DeleteWaiter: @unchecked Sendable {  // confined to the event loop
    private let kv: LocalKV
    private let prefix: [UInt8]
    private let revision: Int64
    private var watch: PrefixWatch?
    private var done: LocalKV.Done<Void>?

    init(kv: LocalKV, prefix: [UInt8], revision: Int64, on eventLoop: EventLoop, _ done: @escaping LocalKV.Done<Void>) {
        self.kv = kv
        self.prefix = prefix
        self.revision = revision
        self.done = done
        let watch = PrefixWatch(prefix: prefix, deletesOnly: true, hub: kv.context.watches, eventLoop: eventLoop) { [weak self] in
            self?.check()
        }
        self.watch = watch
        if watch.start() {
            check()
        } else {
            finish(.failure(EtcdServerError(.resourceExhausted, "etcdserver: too many watchers")))
        }
    }

    /// The caller went away: stop waiting, without an answer.
    func cancel() {
        done = nil
        watch?.stop()
        watch = nil
    }

    private func check() {
        guard done != nil else { return }
        do {
            if try !kv.anyCreated(prefix, atOrBefore: revision) { finish(.success(())) }
        } catch {
            finish(.failure(error))
        }
    }

    private func finish(_ result: Result<Void, EtcdServerError>) {
        let d = done
        cancel()
        d?(result)
    }
}
