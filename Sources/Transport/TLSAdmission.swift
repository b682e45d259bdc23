import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Sits right after the TLS handler until the handshake is done: checks the other side's certificate
/// against the policy (CN, hostname, CRL, SAN), and on any failure — a failed handshake, plaintext sent to
/// a TLS port, a certificate from the wrong CA — logs why and closes this connection, and only this one.
/// The checks read the CRL file and may resolve SAN names, so they run on NIO's blocking-I/O pool, never on
/// the event loop; bytes arriving meanwhile are held back. Removes itself once the connection is admitted,
/// so it costs nothing per request.
final class TLSAdmission: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    enum Role { case server, client }

    private enum State { case handshaking, checking, admitted, rejected }

    private let policy: TLSCertificatePolicy
    private let role: Role
    private let onReject: @Sendable (String) -> Void
    private var state = State.handshaking
    /// Reads and the handshake event held back while the certificate is checked (bounded by the peer's
    /// flow control: a connection that has not been answered sends little).
    private var heldReads: [NIOAny] = []
    private var heldEvent: Any?

    init(policy: TLSCertificatePolicy, role: Role, onReject: @escaping @Sendable (String) -> Void) {
        self.policy = policy
        self.role = role
        self.onReject = onReject
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tls = event as? TLSUserEvent, case .handshakeCompleted = tls, state == .handshaking else {
            return context.fireUserInboundEventTriggered(event)
        }
        let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate
        guard let certificate, !policy.isEmpty else { return admit(context: context, event: event) }
        state = .checking
        heldEvent = event
        let policy = self.policy, role = self.role, remote = context.channel.remoteAddress
        let verdict = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
            CertificateChecks.verify(certificate, policy: policy, role: role, remote: remote)
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        verdict.whenComplete { result in
            let (handler, context) = bound.value
            guard handler.state == .checking else { return }
            switch result {
            case .success(nil): handler.admit(context: context, event: handler.heldEvent!)
            case .success(let reason?): handler.reject(context: context, reason: reason)
            case .failure(let error): handler.reject(context: context, reason: "certificate check failed: \(error)")
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .checking: heldReads.append(data)
        case .rejected: break
        case .handshaking, .admitted: context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if state != .checking && state != .rejected { context.fireChannelReadComplete() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard state == .handshaking || state == .checking else { return context.fireErrorCaught(error) }
        reject(context: context, reason: Self.reason(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .handshaking || state == .checking {
            state = .rejected
            onReject("\(describe(context)) (error \"connection closed before the TLS handshake completed\")")
        }
        context.fireChannelInactive()
    }

    private func admit(context: ChannelHandlerContext, event: Any) {
        state = .admitted
        heldEvent = nil
        context.fireUserInboundEventTriggered(event)
        let reads = heldReads
        heldReads = []
        for data in reads { context.fireChannelRead(data) }
        if !reads.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// etcd's logTLSHandshakeFailure: "rejected connection from ADDR (error ...)".
    private func reject(context: ChannelHandlerContext, reason: String) {
        state = .rejected
        heldReads = []
        heldEvent = nil
        onReject("\(describe(context)) (error \"\(reason)\")")
        context.close(promise: nil)
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

    private func describe(_ context: ChannelHandlerContext) -> String {
        let address = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        return role == .server ? "rejected connection from \"\(address)\"" : "TLS connection to \"\(address)\" refused"
    }
}
