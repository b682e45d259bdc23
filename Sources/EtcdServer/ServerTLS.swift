import Foundation
import KeelConfig
import Logging
import NIOSSL
import Transport

/// The TLS a member uses, built once at start from the Security flags (etcd's ClientTLSInfo / PeerTLSInfo):
/// listeners for https client and peer URLs, and dialers for https URLs of other members.
struct ServerTLS: Sendable {
    /// https client (and metrics) listeners; nil when no client certificate is configured.
    var clientListener: TLSServerSecurity?
    /// Our calls to another member's https client URL (forwarding to the leader).
    var clientDialer: TLSClientSecurity?
    /// https peer listeners; nil when no peer certificate is configured.
    var peerListener: TLSServerSecurity?
    /// Our connections to https peer URLs.
    var peerDialer: TLSClientSecurity?

    static func make(config: ServerConfig, logger: Logger) throws -> ServerTLS {
        let reject: @Sendable (String) -> Void = { reason in logger.warning("\(reason)") }
        var client = config.clientTLS
        var peer = config.peerTLS
        // etcd's PeerSelfCert / ClientSelfCert: <data-dir>/fixtures/{peer,client}.
        if peer.autoTLS {
            let files = try AutoTLS.certificate(in: config.dataDir + "/fixtures/peer",
                                                hosts: config.listenPeerURLs.map(\.host), logger: logger)
            (peer.certFile, peer.keyFile) = files
        }
        if client.autoTLS {
            let files = try AutoTLS.certificate(in: config.dataDir + "/fixtures/client",
                                                hosts: config.listenClientURLs.map(\.host), logger: logger)
            (client.certFile, client.keyFile) = files
        }
        var tls = ServerTLS()
        let suites = config.cipherSuites
        do {
            if !peer.isEmpty {
                let context = try TLSServerSecurity.makeContext(
                    certFile: peer.certFile, keyFile: peer.keyFile, trustedCAFile: peer.trustedCAFile,
                    clientCertAuth: peer.clientCertAuth, cipherSuites: suites)
                tls.peerListener = TLSServerSecurity(context: context, policy: policy(peer, sanCheck: !peer.skipClientSANVerify),
                                                     onReject: reject)
                logger.info("starting with peer TLS", metadata: ["tls-info": "\(describe(peer))", "cipher-suites": "\(config.cipherSuiteNames)"])
            }
            tls.peerDialer = TLSClientSecurity(
                context: try TLSClientSecurity.makeContext(certFile: peer.certFile, keyFile: peer.keyFile,
                                                           trustedCAFile: peer.trustedCAFile, skipVerify: peer.autoTLS,
                                                           cipherSuites: suites),
                policy: policy(peer, sanCheck: false), onReject: reject)
            if !client.isEmpty {
                let context = try TLSServerSecurity.makeContext(
                    certFile: client.certFile, keyFile: client.keyFile, trustedCAFile: client.trustedCAFile,
                    clientCertAuth: client.clientCertAuth, cipherSuites: suites)
                tls.clientListener = TLSServerSecurity(context: context, policy: policy(client, sanCheck: false), onReject: reject)
            }
            tls.clientDialer = TLSClientSecurity(
                context: try TLSClientSecurity.makeContext(certFile: client.certFile, keyFile: client.keyFile,
                                                           trustedCAFile: client.trustedCAFile, skipVerify: client.autoTLS,
                                                           cipherSuites: suites),
                onReject: reject)
        } catch {
            throw KeelServer.StartupError("cannot set up TLS: \(error)")
        }
        return tls
    }

    private static func policy(_ flags: TLSFlags, sanCheck: Bool) -> TLSCertificatePolicy {
        TLSCertificatePolicy(allowedCN: flags.allowedCN.isEmpty ? nil : flags.allowedCN,
                             allowedHostname: flags.allowedHostname.isEmpty ? nil : flags.allowedHostname,
                             crlFile: flags.crlFile.isEmpty ? nil : flags.crlFile,
                             checkSANAgainstRemoteAddress: sanCheck)
    }

    /// etcd's TLSInfo.String().
    static func describe(_ f: TLSFlags) -> String {
        "cert = \(f.certFile), key = \(f.keyFile), trusted-ca = \(f.trustedCAFile), client-cert-auth = \(f.clientCertAuth), crl-file = \(f.crlFile)"
    }
}
