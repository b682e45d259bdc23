import Foundation
import NIOCore
import NIOSSL
import NIOTLS

/// Sits right after the TLS handler until the handshake is done: checks the other side's certificate
/// against the policy (CN, hostname, CRL, SAN), and on any failure — a failed handshake, plaintext sent to
/// a TLS port, a certificate from the wrong CA — logs why and closes this connection, and only this one.
/// Removes itself once the connection is admitted, so it costs nothing per request.
final class TLSAdmission: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    enum Role { case server, client }

    private let policy: TLSCertificatePolicy
    private let role: Role
    private let onReject: @Sendable (String) -> Void
    private var decided = false

    init(policy: TLSCertificatePolicy, role: Role, onReject: @escaping @Sendable (String) -> Void) {
        self.policy = policy
        self.role = role
        self.onReject = onReject
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tls = event as? TLSUserEvent, case .handshakeCompleted = tls, !decided else {
            return context.fireUserInboundEventTriggered(event)
        }
        decided = true
        let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate
        if let reason = CertificateChecks.verify(certificate, policy: policy, role: role,
                                                  remote: context.channel.remoteAddress) {
            reject(context: context, reason: reason)
            return
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !decided else { return context.fireErrorCaught(error) }
        decided = true
        reject(context: context, reason: Self.reason(error))
    }

    /// BoringSSL's reason code ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", ...) rather than the
    /// whole error stack with source paths.
    static func reason(_ error: Error) -> String {
        let text = "\(error)"
        guard case NIOSSLError.handshakeFailed = error else { return text }
        let reasons = text.components(separatedBy: "OPENSSL_internal:").dropFirst().compactMap {
            $0.split(separator: " ", maxSplits: 1).first.map(String.init)
        }
        return reasons.isEmpty ? text : "TLS handshake failed: " + reasons.joined(separator: ", ")
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !decided {
            decided = true
            onReject("\(describe(context)) (error \"connection closed before the TLS handshake completed\")")
        }
        context.fireChannelInactive()
    }

    /// etcd's logTLSHandshakeFailure: "rejected connection from ADDR (error ...)".
    private func reject(context: ChannelHandlerContext, reason: String) {
        onReject("\(describe(context)) (error \"\(reason)\")")
        context.close(promise: nil)
    }

    private func describe(_ context: ChannelHandlerContext) -> String {
        let address = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        return role == .server ? "rejected connection from \"\(address)\"" : "TLS connection to \"\(address)\" refused"
    }
}
