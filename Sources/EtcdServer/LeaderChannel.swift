import KeelConfig
import NIOConcurrencyHelpers
import NIOCore
import RPC

/// One reused gRPC connection to the leader's client URL, for the requests only the leader can answer
/// (member changes, lease keep-alives and time-to-live sent to a follower). It is replaced when the
/// leader's URL changes or a call finds it broken.
final class LeaderChannel: Sendable {
    /// Marks a request a member forwarded, so the receiver never forwards it again (no ping-pong while
    /// leadership moves).
    static let forwardedHeader = "keel-forwarded"

    private struct Cached {
        var url: String
        var connection: EventLoopFuture<GRPCClientConnection>
    }
    private let cached = NIOLockedValueBox<Cached?>(nil)

    /// The leader's first client URL, nil while there is no leader (or it has published none).
    static func leaderURL(_ context: ServerContext) -> EtcdURL? {
        guard let leader = context.members.member(context.published.lead) else { return nil }
        return leader.clientURLs.lazy.compactMap { try? EtcdURL.parse($0).get() }.first
    }

    /// A unary call to the leader; throws `.noLeader` without one.
    func unary(_ path: String, request: ByteBuffer, context: ServerContext, on eventLoop: EventLoop) -> EventLoopFuture<GRPCResponse> {
        guard let url = Self.leaderURL(context) else { return eventLoop.makeFailedFuture(EtcdServerError.noLeader) }
        let key = url.canonical
        let tls = url.requiresTLS ? context.clientDialer : nil
        let connection = cached.withLockedValue { c -> EventLoopFuture<GRPCClientConnection> in
            if let c, c.url == key { return c.connection }
            if let old = c { old.connection.whenSuccess { conn in Task { await conn.close() } } }
            let host = url.host == "localhost" ? "127.0.0.1" : url.host
            let promise = eventLoop.makePromise(of: GRPCClientConnection.self)
            promise.completeWithTask {
                // An https client URL is dialed over TLS with the member's client certificate (etcd's ClientTLSInfo).
                try await GRPCClientConnection.connect(host: host, port: Int(url.port ?? 2379), group: eventLoop, tls: tls)
            }
            c = Cached(url: key, connection: promise.futureResult)
            return promise.futureResult
        }
        let timeout = context.raft.settings.requestTimeout
        return connection.flatMap { conn in
            conn.unary(path, request: request, timeout: timeout, metadata: [(Self.forwardedHeader, "1")])
        }.hop(to: eventLoop).flatMapErrorThrowing { error in
            self.drop(connection)
            throw error
        }.map { response in
            if response.status.code == .unavailable { self.drop(connection) }
            return response
        }
    }

    private func drop(_ connection: EventLoopFuture<GRPCClientConnection>) {
        cached.withLockedValue { c in
            if let current = c, current.connection === connection { c = nil }
        }
        connection.whenSuccess { conn in Task { await conn.close() } }
    }

    /// Relays `request` to the leader's `path` and its answer, unchanged, to `call`.
    static func forward(_ call: ServerCall, _ path: String, _ request: ByteBuffer, context: ServerContext) {
        if call.headers[forwardedHeader] != nil { return call.fail(.noLeader) }
        context.leaderChannel.unary(path, request: request, context: context, on: call.eventLoop).whenComplete { result in
            switch result {
            case .success(let response):
                guard response.status.code == .ok, let reply = response.messages.first else { return call.finish(response.status) }
                call.respond(size: reply.readableBytes) { out in reply.withUnsafeReadableBytes { out.copyMemory(from: $0) } }
            case .failure(let error as EtcdServerError):
                call.fail(error)
            case .failure(let error):
                call.fail(EtcdServerError(.unavailable, "etcdserver: leader is unreachable: \(error)"))
            }
        }
    }
}
