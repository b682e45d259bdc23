import CProtobufC
import EtcdProto
import NIOCore
import RPC
import Synchronization

public struct LeaseGrantResponse: Sendable {
    public var header: ResponseHeader
    public var id: Int64
    /// Seconds the server granted.
    public var ttl: Int64
}

public struct LeaseTimeToLiveResponse: Sendable {
    public var header: ResponseHeader
    public var id: Int64
    /// Seconds left; -1 once the lease expired or does not exist.
    public var ttl: Int64
    public var grantedTTL: Int64
    public var keys: [[UInt8]]
}

extension EtcdClient {
    /// Lease.LeaseGrant of `ttl` seconds; `id` 0 lets the server pick.
    public func grantLease(ttl: Int64, id: Int64 = 0) async throws -> LeaseGrantResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__lease_grant_request__init)
        m.pointee.ttl = ttl
        m.pointee.id = id
        let bytes = try await unary("/etcdserverpb.Lease/LeaseGrant", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__lease_grant_response__unpack, etcdserverpb__lease_grant_response__free_unpacked) { r in
            let error = Proto.string(r.error)
            if !error.isEmpty { throw EtcdError.server(code: .unknown, message: error) }
            return LeaseGrantResponse(header: ResponseHeader(r.header), id: r.id, ttl: r.ttl)
        }
    }

    /// Lease.LeaseRevoke: the lease and every key attached to it go.
    @discardableResult
    public func revokeLease(id: Int64) async throws -> ResponseHeader {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__lease_revoke_request__init)
        m.pointee.id = id
        let bytes = try await unary("/etcdserverpb.Lease/LeaseRevoke", Proto.pack(m), retry: .once)
        return try Proto.read(bytes, etcdserverpb__lease_revoke_response__unpack,
                              etcdserverpb__lease_revoke_response__free_unpacked) { ResponseHeader($0.header) }
    }

    /// Lease.LeaseTimeToLive; `keys` also lists the keys attached.
    public func leaseTimeToLive(id: Int64, keys: Bool = false) async throws -> LeaseTimeToLiveResponse {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__lease_time_to_live_request__init)
        m.pointee.id = id
        m.pointee.keys = keys ? 1 : 0
        let bytes = try await unary("/etcdserverpb.Lease/LeaseTimeToLive", Proto.pack(m), retry: .idempotent)
        return try Proto.read(bytes, etcdserverpb__lease_time_to_live_response__unpack,
                              etcdserverpb__lease_time_to_live_response__free_unpacked) { r in
            let keys: [[UInt8]] = r.keys.map { pointer in (0..<r.n_keys).map { Proto.bytes(pointer[$0]) } } ?? []
            return LeaseTimeToLiveResponse(header: ResponseHeader(r.header), id: r.id, ttl: r.ttl,
                                           grantedTTL: r.grantedttl, keys: keys)
        }
    }

    /// Lease.LeaseLeases: the ids of every lease.
    public func leases() async throws -> [Int64] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__lease_leases_request__init)
        let bytes = try await unary("/etcdserverpb.Lease/LeaseLeases", Proto.pack(m), retry: .idempotent)
        return try Proto.read(bytes, etcdserverpb__lease_leases_response__unpack,
                              etcdserverpb__lease_leases_response__free_unpacked) { r in
            Proto.elements(r.leases, r.n_leases).map(\.id)
        }
    }

    /// One keep-alive round trip (Lease.LeaseKeepAlive): the TTL the lease has again, or
    /// `EtcdError.leaseExpired` when it is gone.
    public func keepAliveOnce(id: Int64) async throws -> Int64 {
        let connection = try await pool.connection()
        let call = try await connection.makeCall("/etcdserverpb.Lease/LeaseKeepAlive", timeout: options.requestTimeout,
                                                 metadata: pool.metadata).get()
        call.send(ByteBuffer(bytes: LeaseKeepAlive.request(id: id)))
        call.closeSend()
        let response = try await call.response.get()
        guard response.status.code == .ok else {
            if response.status.code == .unavailable { pool.failed(connection) }
            throw EtcdError(response.status)
        }
        guard let first = response.messages.first else { throw EtcdError.malformedResponse("no LeaseKeepAliveResponse") }
        let ttl = try LeaseKeepAlive.ttl(of: Array(buffer: first))
        guard ttl > 0 else { throw EtcdError.leaseExpired(id: id) }
        return ttl
    }

    /// Keeps lease `id` alive until `cancel()` (or the client closes): a keep-alive every third of
    /// its TTL on a LeaseKeepAlive stream, reconnected through the client's endpoints when it breaks.
    /// Ends (with `error` set) once the server says the lease is gone.
    public func keepAlive(id: Int64) -> LeaseKeepAlive {
        let keepAlive = LeaseKeepAlive(client: self, id: id)
        keepAlive.start()
        return keepAlive
    }
}

/// A running automatic keep-alive of one lease.
public final class LeaseKeepAlive: Sendable {
    public let id: Int64
    private let client: EtcdClient

    private struct State {
        var ttl: Int64 = 0
        var responses = 0
        var error: EtcdError?
        var task: Task<Void, Never>?
        var call: ClientCall?
        var stopped = false
    }
    private let state = Mutex(State())

    init(client: EtcdClient, id: Int64) {
        self.client = client
        self.id = id
    }

    /// The TTL the last keep-alive answer granted (0 before the first).
    public var ttl: Int64 { state.withLock { $0.ttl } }
    /// Keep-alive answers received so far.
    public var responses: Int { state.withLock { $0.responses } }
    /// Why keeping alive stopped by itself (the lease expired or was revoked).
    public var error: EtcdError? { state.withLock { $0.error } }

    public func cancel() {
        let (task, call) = state.withLock { s -> (Task<Void, Never>?, ClientCall?) in
            s.stopped = true
            return (s.task, s.call)
        }
        task?.cancel()
        call?.cancel()
    }

    fileprivate func start() {
        let task = Task { await self.run() }
        state.withLock { $0.task = task }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func run() async {
        let backoff = UInt64(client.options.reconnectBackoff.nanoseconds)
        while !Task.isCancelled && !stopped {
            let connection: GRPCClientConnection
            do {
                connection = try await client.pool.connection()
            } catch EtcdError.closed {
                return
            } catch {
                try? await Task.sleep(nanoseconds: backoff)
                continue
            }
            let call: ClientCall
            do {
                call = try await connection.makeCall("/etcdserverpb.Lease/LeaseKeepAlive", metadata: client.pool.metadata, onMessage: { [self] message in
                    self.received(Array(buffer: message))
                }).get()
            } catch {
                client.pool.failed(connection)
                try? await Task.sleep(nanoseconds: backoff)
                continue
            }
            guard state.withLock({ s -> Bool in s.call = call; return !s.stopped }) else { call.cancel(); return }
            // Send one keep-alive now, then every TTL/3 (at least every 500 ms) while the stream lives. The
            // timer runs on the connection's event loop, not in a Task: a cooperative pool kept busy by the
            // application must not let the lease expire.
            let sender = RepeatingSend(call: call, request: Self.request(id: id), eventLoop: connection.channel.eventLoop) { [self] in
                let ttl = self.ttl
                return .nanoseconds(Int64(ttl > 0 ? max(500_000_000, UInt64(ttl) * 1_000_000_000 / 3) : 500_000_000))
            }
            sender.start()
            _ = try? await call.response.get()
            sender.stop()
            state.withLock { $0.call = nil }
            if stopped { return }
            client.pool.failed(connection)
            try? await Task.sleep(nanoseconds: backoff)
        }
    }

    private func received(_ bytes: [UInt8]) {
        guard let ttl = try? Self.ttl(of: bytes) else { return }
        let call = state.withLock { s -> ClientCall? in
            s.responses += 1
            s.ttl = ttl
            guard ttl <= 0 else { return nil }
            s.error = .leaseExpired(id: id)
            s.stopped = true
            return s.call
        }
        if let call {
            call.cancel()
            state.withLock { $0.task }?.cancel()
        }
    }

    static func request(id: Int64) -> [UInt8] {
        var m = Etcdserverpb__LeaseKeepAliveRequest()
        etcdserverpb__lease_keep_alive_request__init(&m)
        m.id = id
        return withUnsafeMutablePointer(to: &m) { Proto.pack($0) }
    }

    static func ttl(of bytes: [UInt8]) throws -> Int64 {
        try Proto.read(bytes, etcdserverpb__lease_keep_alive_response__unpack,
                       etcdserverpb__lease_keep_alive_response__free_unpacked) { $0.ttl }
    }
}

/// Sends one message on a stream now and then after each interval `next` gives, on an event loop, until stopped.
final class RepeatingSend: Sendable {
    private let call: ClientCall
    private let request: [UInt8]
    private let eventLoop: EventLoop
    private let next: @Sendable () -> TimeAmount
    private let scheduled = Mutex<(task: Scheduled<Void>?, stopped: Bool)>((nil, false))

    init(call: ClientCall, request: [UInt8], eventLoop: EventLoop, next: @escaping @Sendable () -> TimeAmount) {
        (self.call, self.request, self.eventLoop, self.next) = (call, request, eventLoop, next)
    }

    func start() { eventLoop.execute { self.tick() } }

    func stop() {
        scheduled.withLock { s in
            s.stopped = true
            s.task?.cancel()
            s.task = nil
        }
    }

    private func tick() {
        guard !scheduled.withLock({ $0.stopped }) else { return }
        call.send(ByteBuffer(bytes: request))
        let task = eventLoop.scheduleTask(in: next()) { self.tick() }
        scheduled.withLock { s in
            if s.stopped { task.cancel() } else { s.task = task }
        }
    }
}
