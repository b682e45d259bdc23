import NIOCore
import RPC
import Synchronization
import Transport

/// The client's connection: one HTTP/2 connection at a time, to the current endpoint. When it
/// fails (cannot connect, or drops), the next endpoint in the list becomes current: failover in
/// order, wrapping around, like clientv3's round-robin over its endpoints.
final class ConnectionPool: Sendable {
    let endpoints: [Endpoint]
    let group: EventLoopGroup
    /// TLS for every connection (nil: h2c).
    let tls: TLSClientSecurity?
    /// A user and password: each new connection authenticates first (clientv3's dial), and its calls
    /// carry the token.
    let credentials: (user: String, password: String)?

    private struct State {
        var current = 0
        var connection: GRPCClientConnection?
        /// The token `connection` got, when authenticating.
        var token: String?
        /// A connect in flight to `current`, shared by every caller that waits for it.
        var connecting: Task<(GRPCClientConnection, String?), Error>?
        var closed = false
    }
    private let state = Mutex(State())

    /// Connecting gives up after the RPC client's 5 s connect timeout, then the next endpoint is tried.
    init(endpoints: [Endpoint], group: EventLoopGroup, tls: TLSClientSecurity? = nil,
         credentials: (user: String, password: String)? = nil) {
        precondition(!endpoints.isEmpty, "no endpoints")
        self.endpoints = endpoints
        self.group = group
        self.tls = tls
        self.credentials = credentials
    }

    /// The metadata every call on the current connection carries: its auth token, if any.
    var metadata: [(String, String)] { state.withLock { s in s.token.map { [("token", $0)] } ?? [] } }

    /// Connects to `endpoint` and, with credentials, authenticates on that connection.
    private static func open(_ endpoint: Endpoint, group: EventLoopGroup, tls: TLSClientSecurity?,
                             credentials: (user: String, password: String)?) async throws -> (GRPCClientConnection, String?) {
        let connection = try await GRPCClientConnection.connect(host: endpoint.host, port: endpoint.port, group: group, tls: tls)
        guard let credentials else { return (connection, nil) }
        do {
            return (connection, try await authenticate(connection, credentials))
        } catch {
            await connection.close()
            throw error
        }
    }

    private static func authenticate(_ connection: GRPCClientConnection,
                                     _ credentials: (user: String, password: String)) async throws -> String {
        let response = try await connection.unary("/etcdserverpb.Auth/Authenticate",
                                                  request: ByteBuffer(bytes: AuthMessages.authenticate(credentials.user, credentials.password)),
                                                  timeout: .seconds(10)).get()
        guard response.status.code == .ok else { throw EtcdError(response.status) }
        guard let first = response.messages.first else { throw EtcdError.malformedResponse("no AuthenticateResponse") }
        return try AuthMessages.token(Array(buffer: first))
    }

    /// The current connection's token was refused as invalid or stale: authenticate again on it
    /// (clientv3 does the same, once, before retrying the call).
    func reauthenticate(_ connection: GRPCClientConnection) async throws {
        guard let credentials else { return }
        let token = try await Self.authenticate(connection, credentials)
        state.withLock { s in if s.connection === connection { s.token = token } }
    }

    /// The live connection to the current endpoint, connecting (and failing over on connect
    /// errors, each endpoint tried once) when there is none.
    func connection() async throws -> GRPCClientConnection {
        enum Next { case ready(GRPCClientConnection), wait(Task<(GRPCClientConnection, String?), Error>, Int) }
        var lastError = "no endpoint tried"
        for _ in 0..<endpoints.count {
            let next: Next = try state.withLock { state in
                guard !state.closed else { throw EtcdError.closed }
                if let connection = state.connection, connection.channel.isActive { return .ready(connection) }
                state.connection = nil
                state.token = nil
                if let connecting = state.connecting { return .wait(connecting, state.current) }
                let endpoint = endpoints[state.current]
                let (group, tls, credentials) = (self.group, self.tls, self.credentials)
                let task = Task { try await Self.open(endpoint, group: group, tls: tls, credentials: credentials) }
                state.connecting = task
                return .wait(task, state.current)
            }
            guard case .wait(let task, let index) = next else {
                if case .ready(let connection) = next { return connection }
                preconditionFailure()
            }
            let connection: GRPCClientConnection
            let token: String?
            do {
                (connection, token) = try await task.value
            } catch let error as EtcdError where !error.isUnavailable {
                throw error  // refused credentials: another endpoint would refuse them too
            } catch {
                lastError = "\(endpoints[index]): \(error)"
                advance(from: index)
                continue
            }
            let closed = state.withLock { state -> Bool in
                if state.closed { return true }
                if state.current == index, state.connecting == task {
                    state.connection = connection
                    state.token = token
                    state.connecting = nil
                }
                return false
            }
            if closed {
                await connection.close()
                throw EtcdError.closed
            }
            return connection
        }
        throw EtcdError.unavailable(lastError)
    }

    /// A separate connection to one endpoint (Maintenance calls aimed at a member), authenticated like the
    /// others, with the metadata its calls carry; the caller closes it.
    func dedicatedConnection(to endpoint: Endpoint) async throws -> (GRPCClientConnection, [(String, String)]) {
        do {
            let (connection, token) = try await Self.open(endpoint, group: group, tls: tls, credentials: credentials)
            return (connection, token.map { [("token", $0)] } ?? [])
        } catch let error as EtcdError where !error.isUnavailable {
            throw error
        } catch {
            throw EtcdError.unavailable("\(endpoint): \(error)")
        }
    }

    /// `connection` misbehaved (dropped, or its member answered Unavailable): the next call uses
    /// the next endpoint.
    func failed(_ connection: GRPCClientConnection) {
        let stale: GRPCClientConnection? = state.withLock { state in
            guard state.connection === connection else { return nil }
            state.connection = nil
            state.token = nil
            state.connecting = nil
            state.current = (state.current + 1) % endpoints.count
            return connection
        }
        if let stale { stale.channel.close(promise: nil) }
    }

    private func advance(from index: Int) {
        state.withLock { state in
            guard state.current == index else { return }
            state.connecting = nil
            state.connection = nil
            state.token = nil
            state.current = (index + 1) % endpoints.count
        }
    }

    /// The endpoint calls go to now.
    var currentEndpoint: Endpoint { state.withLock { endpoints[$0.current] } }

    func close() async {
        let (connection, connecting) = state.withLock { state -> (GRPCClientConnection?, Task<(GRPCClientConnection, String?), Error>?) in
            state.closed = true
            defer { state.connection = nil; state.connecting = nil }
            return (state.connection, state.connecting)
        }
        if let connection { await connection.close() }
        if let connecting, let (connection, _) = try? await connecting.value { await connection.close() }
    }
}
