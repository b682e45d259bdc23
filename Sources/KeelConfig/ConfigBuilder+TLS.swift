/// The Security flags, checked in the order etcd's embed.StartEtcd meets them (peer listeners first, then
/// client listeners), with etcd's messages.
extension ConfigBuilder {
    struct TLSSettings {
        var client = TLSFlags()
        var peer = TLSFlags()
        var cipherSuites: [String] = []
        var cipherSuiteNames: [String] = []
    }

    static func tlsSettings(_ f: FlagSet, listenClient: [EtcdURL], listenPeer: [EtcdURL], listenMetrics: [EtcdURL],
                            warnings: inout [String]) -> Result<TLSSettings, Failure> {
        var s = TLSSettings()
        s.client.certFile = f.value("cert-file").string
        s.client.keyFile = f.value("key-file").string
        s.client.trustedCAFile = f.value("trusted-ca-file").string
        s.client.clientCertAuth = f.value("client-cert-auth").bool
        s.client.crlFile = f.value("client-crl-file").string
        s.client.allowedHostname = f.value("client-cert-allowed-hostname").string
        s.client.autoTLS = f.value("auto-tls").bool
        s.peer.certFile = f.value("peer-cert-file").string
        s.peer.keyFile = f.value("peer-key-file").string
        s.peer.trustedCAFile = f.value("peer-trusted-ca-file").string
        s.peer.clientCertAuth = f.value("peer-client-cert-auth").bool
        s.peer.crlFile = f.value("peer-crl-file").string
        s.peer.allowedCN = f.value("peer-cert-allowed-cn").string
        s.peer.allowedHostname = f.value("peer-cert-allowed-hostname").string
        s.peer.autoTLS = f.value("peer-auto-tls").bool
        s.peer.skipClientSANVerify = f.value("experimental-peer-skip-client-san-verification").bool

        // embed.updateCipherSuites (tlsutil.GetCipherSuites).
        let names = f.value("cipher-suites").strings.filter { !$0.isEmpty }
        for name in names {
            switch CipherSuites.lookup(name) {
            case .boringSSL(let b): if !s.cipherSuites.contains(b) { s.cipherSuites.append(b) }
            case .tls13: break
            case .unavailable:
                return .failure(refuse("\(f.origin(of: "cipher-suites")) has \(name), which etcd accepts but Keel's TLS library (BoringSSL) does not offer"))
            case .unknown:
                return .failure(Failure(message: "unexpected TLS cipher suite \"\(name)\"", exitCode: 1))
            }
        }
        s.cipherSuiteNames = names
        if !names.isEmpty && s.cipherSuites.isEmpty {
            // Only TLS 1.3 names: Go ignores them for TLS 1.2 as well, leaving its defaults.
            warnings.append("cipher suites \(names) are TLS 1.3 suites, which are not configurable (as in etcd); TLS 1.2 keeps the library's defaults")
        }

        // embed.PeerSelfCert / ClientSelfCert: certificates given win over auto TLS.
        if s.peer.autoTLS && !s.peer.isEmpty {
            warnings.append("ignoring peer auto TLS since certs given")
            s.peer.autoTLS = false
        }
        if s.client.autoTLS && !s.client.isEmpty {
            warnings.append("ignoring client auto TLS since certs given")
            s.client.autoTLS = false
        }
        // transport.TLSInfo.baseConfig.
        for side in [s.peer, s.client] where !side.allowedCN.isEmpty && !side.allowedHostname.isEmpty {
            return .failure(Failure(message: "AllowedCN and AllowedHostname are mutually exclusive (cn=\"\(side.allowedCN)\", hostname=\"\(side.allowedHostname)\")", exitCode: 1))
        }
        // A certificate without its key (or the reverse) fails where etcd builds a TLS config: for https listeners.
        func pairCheck(_ side: TLSFlags) -> Failure? {
            guard side.certFile.isEmpty != side.keyFile.isEmpty else { return nil }
            return Failure(message: "KeyFile and CertFile must both be present[key: \(side.keyFile), cert: \(side.certFile)]", exitCode: 1)
        }

        let peerHasCerts = !s.peer.isEmpty || s.peer.autoTLS
        let clientHasCerts = !s.client.isEmpty || s.client.autoTLS
        for u in listenPeer {
            if u.scheme == .http && !s.peer.isEmpty {
                warnings.append("scheme is HTTP while key and cert files are present; ignoring key and cert files (peer-url \(u.canonical))")
            }
            if u.scheme == .http && s.peer.clientCertAuth {
                warnings.append("scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL (peer-url \(u.canonical))")
            }
            if u.scheme == .https, let e = pairCheck(s.peer) { return .failure(e) }
            if u.scheme == .https && !peerHasCerts {
                return .failure(Failure(message: "cannot listen on TLS for \(hostPort(u)): KeyFile and CertFile are not presented", exitCode: 1))
            }
        }
        for u in listenClient {
            if (u.scheme == .http || u.scheme == .unix) && !s.client.isEmpty {
                warnings.append("scheme is HTTP while key and cert files are present; ignoring key and cert files (client-url \(u.canonical))")
            }
            if (u.scheme == .http || u.scheme == .unix) && s.client.clientCertAuth {
                warnings.append("scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL (client-url \(u.canonical))")
            }
            if u.scheme == .https, let e = pairCheck(s.client) { return .failure(e) }
            if u.scheme == .https && !clientHasCerts {
                return .failure(Failure(message: "TLS key/cert (--cert-file, --key-file) must be provided for client url \(u.canonical) with HTTPS scheme", exitCode: 1))
            }
        }
        for u in listenMetrics where u.scheme == .https && !clientHasCerts {
            return .failure(Failure(message: "cannot listen on TLS for \(hostPort(u)): KeyFile and CertFile are not presented", exitCode: 1))
        }
        return .success(s)
    }

    private static func hostPort(_ u: EtcdURL) -> String {
        (u.host.contains(":") ? "[\(u.host)]" : u.host) + ":" + u.portText
    }
}
