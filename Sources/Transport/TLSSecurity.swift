import Foundation
import NIOCore
import NIOSSL

/// What a TLS listener or dialer needs besides the handshake itself: etcd's extra checks of the other
/// side's certificate (transport.TLSInfo: AllowedCN, AllowedHostname, CRLFile, the peer listener's SAN
/// check), run right after the handshake; a failure closes that connection only.
public struct TLSCertificatePolicy: Sendable {
    /// --peer-cert-allowed-cn: the leaf's subject CN must equal this.
    public var allowedCN: String?
    /// --peer-cert-allowed-hostname / --client-cert-allowed-hostname: the leaf's SANs must cover this name.
    public var allowedHostname: String?
    /// --client-crl-file / --peer-crl-file: read at each handshake, as etcd does (a new CRL applies at once).
    public var crlFile: String?
    /// etcd's checkSAN on peer listeners: a client certificate with SANs must name the address it connects from.
    public var checkSANAgainstRemoteAddress = false

    public init(allowedCN: String? = nil, allowedHostname: String? = nil, crlFile: String? = nil,
                checkSANAgainstRemoteAddress: Bool = false) {
        self.allowedCN = allowedCN
        self.allowedHostname = allowedHostname
        self.crlFile = crlFile
        self.checkSANAgainstRemoteAddress = checkSANAgainstRemoteAddress
    }

    var isEmpty: Bool { allowedCN == nil && allowedHostname == nil && crlFile == nil && !checkSANAgainstRemoteAddress }
}

/// The server side of TLS for one kind of listener (client or peer).
public struct TLSServerSecurity: Sendable {
    public let context: NIOSSLContext
    public let policy: TLSCertificatePolicy
    /// Told why a connection was refused (handshake failure, a certificate the policy rejects); for the log.
    public let onReject: @Sendable (String) -> Void

    public init(context: NIOSSLContext, policy: TLSCertificatePolicy, onReject: @escaping @Sendable (String) -> Void) {
        self.context = context
        self.policy = policy
        self.onReject = onReject
    }

    /// etcd's TLSInfo.ServerConfig: TLS 1.2 or newer; a client certificate is required and verified when
    /// a trusted CA file is given or `clientCertAuth` is set; ALPN offers h2 (gRPC) and http/1.1 (the gateway).
    /// The certificate and key are read again at a handshake once they changed on disk (etcd's GetCertificate).
    public static func makeContext(certFile: String, keyFile: String, trustedCAFile: String, clientCertAuth: Bool,
                                   cipherSuites: [String]) throws -> NIOSSLContext {
        try TLSFileError.checkPair(certFile: certFile, keyFile: keyFile, trustedCAFile: trustedCAFile)
        let chain = try NIOSSLCertificate.fromPEMFile(certFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        let reloader = CertificateReloader(certFile: certFile, keyFile: keyFile)
        config.sslContextCallback = { _, promise in promise.succeed(reloader.current()) }
        config.minimumTLSVersion = .tlsv12
        if !cipherSuites.isEmpty { config.cipherSuites = cipherSuites.joined(separator: ":") }
        config.applicationProtocols = ["h2", "http/1.1"]
        if !trustedCAFile.isEmpty || clientCertAuth {
            config.certificateVerification = .noHostnameVerification
            config.trustRoots = trustedCAFile.isEmpty ? .default : .certificates(try NIOSSLCertificate.fromPEMFile(trustedCAFile))
        } else {
            config.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: config)
    }

    /// TLS first on an accepted channel, then the admission check; the caller adds the protocol stack after.
    func install(on channel: Channel) throws {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: context))
        try sync.addHandler(TLSAdmission(policy: policy, role: .server, onReject: onReject))
    }
}

/// The client side of TLS, for our own connections to members (peers, and a leader's client URL).
public struct TLSClientSecurity: Sendable {
    public let context: NIOSSLContext
    public let policy: TLSCertificatePolicy
    public let onReject: @Sendable (String) -> Void

    public init(context: NIOSSLContext, policy: TLSCertificatePolicy = TLSCertificatePolicy(),
                onReject: @escaping @Sendable (String) -> Void) {
        self.context = context
        self.policy = policy
        self.onReject = onReject
    }

    /// etcd's TLSInfo.ClientConfig: our certificate (if any) for servers that require one, the trusted CA
    /// (or the system's roots) to verify theirs including its name, no verification for self-signed
    /// (auto TLS) certificates, ALPN h2.
    public static func makeContext(certFile: String, keyFile: String, trustedCAFile: String, skipVerify: Bool,
                                   cipherSuites: [String]) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        if !certFile.isEmpty && !keyFile.isEmpty {
            config.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            config.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        }
        config.minimumTLSVersion = .tlsv12
        if !cipherSuites.isEmpty { config.cipherSuites = cipherSuites.joined(separator: ":") }
        config.applicationProtocols = ["h2"]
        if skipVerify {
            config.certificateVerification = .none
        } else {
            config.certificateVerification = .fullVerification
            if !trustedCAFile.isEmpty { config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustedCAFile)) }
        }
        return try NIOSSLContext(configuration: config)
    }

    /// Adds TLS to a channel dialed to `host` (a name is sent as SNI and verified; an IP literal is verified
    /// against the certificate's IP SANs).
    public func install(on channel: Channel, host: String) throws {
        let sync = channel.pipeline.syncOperations
        let name = host.isEmpty || IPAddressText.parse(host) != nil ? nil : host
        try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
        if !policy.isEmpty { try sync.addHandler(TLSAdmission(policy: policy, role: .client, onReject: onReject)) }
    }
}

/// Go's words for TLS files that cannot be used (etcd exits with them): a missing file, a key that is not the
/// certificate's. NIOSSL's own errors name neither the file nor the reason.
public struct TLSFileError: Error, CustomStringConvertible {
    public let description: String

    static func checkPair(certFile: String, keyFile: String, trustedCAFile: String) throws {
        for path in [certFile, keyFile, trustedCAFile] where !path.isEmpty && !FileManager.default.fileExists(atPath: path) {
            throw TLSFileError(description: "open \(path): no such file or directory")
        }
        if CertificateReloader.keyMismatch(certFile: certFile, keyFile: keyFile) {
            throw TLSFileError(description: "tls: private key does not match public key")
        }
    }
}
