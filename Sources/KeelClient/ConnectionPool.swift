import NIOCore
import RPC
import Synchronization

/// The client's connection: one HTTP/2 connection at a time, to the current endpoint. When it
/// fails (cannot connect, or drops), the next endpoint in the list becomes current: failover in
/// order, wrapping around, like clientv3's round-robin over its endpoints.
final class ConnectionPool: Sendable {
    let endpoints: [Endpoint]
    let group: EventLoopGroup

    private struct State {
        var current = 0
        var connection: GRPCClientConnection?
        /// A connect in flight to `current`, shared by every caller that waits for it.
        var connecting: Task<GRPCClientConnection, Error>?
        var closed = false
    }
    private let state = Mutex(State())

    /// Connecting gives up after the RPC client's 5 s connect timeout, then the next endpoint is tried.
    init(endpoints: [Endpoint], group: EventLoopGroup) {
        precondition(!endpoints.isEmpty, "no endpoints")
        self.endpoints = endpoints
        self.group = group
    }

    /// The live connection to the current endpoint, connecting (and failing over on connect
    /// errors, each endpoint tried once) when there is none.
    func connection() async throws -> GRPCClientConnection {
        enum Next { case ready(GRPCClientConnection), wait(Task<GRPCClientConnection, Error>, Int) }
        var lastError = "no endpoint tried"
        for _ in 0..<endpoints.count {
            let next: Next = try state.withLock { state in
                guard !state.closed else { throw EtcdError.closed }
                if let connection = state.connection, connection.channel.isActive { return .ready(connection) }
                state.connection = nil
                if let connecting = state.connecting { return .wait(connecting, state.current) }
                let endpoint = endpoints[state.current]
                let group = self.group
                let task = Task {
                    try await GRPCClientConnection.connect(host: endpoint.host, port: endpoint.port, group: group)
                }
                state.connecting = task
                return .wait(task, state.current)
            }
            guard case .wait(let task, let index) = next else {
                if case .ready(let connection) = next { return connection }
                preconditionFailure()
            }
            let connection: GRPCClientConnection
            do {
                connection = try await task.value
            } catch {
                lastError = "\(endpoints[index]): \(error)"
                advance(from: index)
                continue
            }
            let closed = state.withLock { state -> Bool in
                if state.closed { return true }
                if state.current == index, state.connecting == task {
                    state.connection = connection
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

    /// A separate connection to one endpoint (Maintenance calls aimed at a member); the caller closes it.
    func dedicatedConnection(to endpoint: Endpoint) async throws -> GRPCClientConnection {
        do {
            return try await GRPCClientConnection.connect(host: endpoint.host, port: endpoint.port, group: group)
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
            state.current = (index + 1) % endpoints.count
        }
    }

    /// The endpoint calls go to now.
    var currentEndpoint: Endpoint { state.withLock { endpoints[$0.current] } }

    func close() async {
        let (connection, connecting) = state.withLock { state -> (GRPCClientConnection?, Task<GRPCClientConnection, Error>?) in
            state.closed = true
            defer { state.connection = nil; state.connecting = nil }
            return (state.connection, state.connecting)
        }
        if let connection { await connection.close() }
        if let connecting, let connection = try? await connecting.value { await connection.close() }
    }
}
