import NIOCore
import NIOHTTP1
import NIOSSL

/// First handler on every accepted connection: the HTTP/2 client preface means h2c with prior knowledge
/// (gRPC, or the gateway over HTTP/2); anything else is HTTP/1.1. It then replaces itself with the right stack.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let configuration: TransportConfiguration
    private var buffered: ByteBuffer?

    init(configuration: TransportConfiguration) {
        self.configuration = configuration
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        let bytes = buffered!
        let n = min(bytes.readableBytes, Self.preface.count)
        let matches = bytes.withUnsafeReadableBytes { raw in
            zip(raw.prefix(n), Self.preface.prefix(n)).allSatisfy { $0 == $1 }
        }
        if matches && n < Self.preface.count { return }  // need more bytes to decide
        do {
            if matches {
                let connection = HTTP2Connection(role: .server, eventLoop: context.eventLoop,
                                                 limits: configuration.http2, router: configuration.router)
                connection.peerCommonName = Self.verifiedCommonName(context)
                try context.pipeline.syncOperations.addHandler(HTTP2ChannelHandler(connection: connection))
            } else {
                try context.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                try context.pipeline.syncOperations.addHandler(
                    HTTP1Handler(responder: configuration.http, maxBodyBytes: configuration.maxHTTPBodyBytes))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// The subject CN of the certificate the client presented, when TLS verified one (the handshake is over
    /// by the time the first bytes arrive here): with --client-cert-auth, etcd's user for auth.
    private static func verifiedCommonName(_ context: ChannelHandlerContext) -> String? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self),
              let certificate = tls.peerCertificate else { return nil }
        return certificate.subjectName.filter { $0.type == .commonName }.map(\.value).last
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A connection that has not said anything yet when we shut down is simply closed.
        if event is ChannelShouldQuiesceEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
