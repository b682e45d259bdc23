import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What every accepted connection is served with.
public struct TransportConfiguration: Sendable {
    public var router: HTTP2StreamRouter
    public var http: HTTPResponder
    public var http2 = HTTP2Limits()
    /// Bound on a plain HTTP request body (the gateway's JSON).
    public var maxHTTPBodyBytes = TransportConfiguration.defaultMaxHTTPBodyBytes
    /// Well above what the gRPC receive limit (2 MiB by default) takes as base64 JSON, so that an oversized
    /// message reaches the gateway and gets etcd's ResourceExhausted answer; beyond this, 413.
    public static let defaultMaxHTTPBodyBytes = 16 << 20

    public init(grpc: HTTP2StreamRouter, http: HTTPResponder) {
        self.http = http
        self.router = ContentTypeRouter(grpc: grpc, http: http, maxBodyBytes: maxHTTPBodyBytes)
    }
}

/// On HTTP/2, `application/grpc*` goes to gRPC and everything else to the plain HTTP responder.
struct ContentTypeRouter: HTTP2StreamRouter {
    let grpc: HTTP2StreamRouter
    let http: HTTPResponder
    let maxBodyBytes: Int

    func delegate(for stream: HTTP2Stream, headers: HTTP2Headers) -> HTTP2StreamDelegate {
        if let type = headers.contentType, type.hasPrefix("application/grpc") {
            return grpc.delegate(for: stream, headers: headers)
        }
        return HTTPOverHTTP2(responder: http, headers: headers, maxBodyBytes: maxBodyBytes)
    }
}

/// Listening sockets for the client URLs. One port serves gRPC (h2c) and HTTP/1.1.
public final class TransportServer: Sendable {
    private let group: EventLoopGroup
    private let configuration: TransportConfiguration
    private let listeners = NIOLockedValueBox<[Channel]>([])
    private let connections = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])

    public init(group: EventLoopGroup, configuration: TransportConfiguration) {
        self.group = group
        self.configuration = configuration
    }

    /// Binds one listener; returns the bound port (useful with port 0). With `tls`, every connection is TLS
    /// (HTTP/1.1 and HTTP/2 are then told apart inside it, as on a plain port).
    public func bind(host: String, port: Int, tls: TLSServerSecurity? = nil) async throws -> Int {
        let configuration = self.configuration
        let connections = self.connections
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                connections.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = connections.withLockedValue { $0.removeValue(forKey: id) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try HTTP2ServerSetup.install(on: channel, configuration: configuration, tls: tls)
                }
            }
            .bind(host: host, port: port).get()
        listeners.withLockedValue { $0.append(channel) }
        return channel.localAddress?.port ?? port
    }

    public var openConnectionCount: Int { connections.withLockedValue { $0.count } }

    /// Stops accepting, sends GOAWAY on every HTTP/2 connection and lets in-flight calls finish; connections
    /// still open after `gracePeriod` are closed.
    public func shutdownGracefully(gracePeriod: TimeAmount = .seconds(5)) async {
        let listening = listeners.withLockedValue { l in defer { l.removeAll() }; return l }
        for channel in listening { try? await channel.close() }
        let open = connections.withLockedValue { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + gracePeriod
        for channel in open {
            let remaining = deadline - .now()
            if remaining <= .zero { break }
            let closed = channel.closeFuture
            let timeout = channel.eventLoop.scheduleTask(in: remaining) { channel.close(promise: nil) }
            try? await closed.get()
            timeout.cancel()
        }
        for channel in connections.withLockedValue({ Array($0.values) }) { try? await channel.close() }
    }
}
