import Testing
@testable import KeelConfig

/// The Security flags reach ServerConfig, and their errors are etcd's (embed.StartEtcd's order and texts).
@Suite struct TLSConfigTests {
    static let httpsClient = ["--listen-client-urls", "https://127.0.0.1:2379", "--advertise-client-urls", "https://127.0.0.1:2379"]
    static let httpsPeer = ["--listen-peer-urls", "https://127.0.0.1:2380", "--initial-advertise-peer-urls", "https://127.0.0.1:2380",
                            "--initial-cluster", "default=https://127.0.0.1:2380"]

    @Test func everyFlagReachesTheConfig() throws {
        let (c, w) = try #require(runConfig(["--data-dir", "/d"] + Self.httpsClient + Self.httpsPeer + [
            "--cert-file", "/c.pem", "--key-file", "/k.pem", "--trusted-ca-file", "/ca.pem", "--client-cert-auth",
            "--client-crl-file", "/c.crl", "--client-cert-allowed-hostname", "client.example",
            "--peer-cert-file", "/pc.pem", "--peer-key-file", "/pk.pem", "--peer-trusted-ca-file", "/pca.pem",
            "--peer-client-cert-auth", "--peer-crl-file", "/p.crl", "--peer-cert-allowed-cn", "peer",
            "--experimental-peer-skip-client-san-verification",
            "--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ]))
        #expect(w.isEmpty, "\(w)")
        #expect(c.clientTLS.certFile == "/c.pem" && c.clientTLS.keyFile == "/k.pem" && c.clientTLS.trustedCAFile == "/ca.pem")
        #expect(c.clientTLS.clientCertAuth && c.clientTLS.crlFile == "/c.crl" && c.clientTLS.allowedHostname == "client.example")
        #expect(c.peerTLS.certFile == "/pc.pem" && c.peerTLS.keyFile == "/pk.pem" && c.peerTLS.trustedCAFile == "/pca.pem")
        #expect(c.peerTLS.clientCertAuth && c.peerTLS.crlFile == "/p.crl" && c.peerTLS.allowedCN == "peer")
        #expect(c.peerTLS.skipClientSANVerify)
        // Go names → BoringSSL names; the TLS 1.3 name is not configurable (as in Go) and drops out.
        #expect(c.cipherSuites == ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
        #expect(c.listenClientURLs.map(\.canonical) == ["https://127.0.0.1:2379"])
    }

    @Test func unknownCipherSuiteIsEtcdsError() throws {
        let f = try #require(failure(["--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,FOO"]))
        #expect(f.code == 1 && f.message == "unexpected TLS cipher suite \"FOO\"")
    }

    @Test func goSuitesBoringSSLLacksAreRefusedByName() throws {
        let f = try #require(failure(["--cipher-suites", "TLS_RSA_WITH_RC4_128_SHA"]))
        #expect(f.code == 2 && f.message.hasPrefix("keel: refusing to start: --cipher-suites has TLS_RSA_WITH_RC4_128_SHA"))
    }

    @Test func httpsWithoutCertificatesIsEtcdsError() throws {
        let f = try #require(failure(Self.httpsClient))
        #expect(f.code == 1 && f.message == "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme")
        let g = try #require(failure(Self.httpsPeer))
        #expect(g.code == 1 && g.message == "cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented")
        let h = try #require(failure(Self.httpsClient + ["--cert-file", "/c.pem"]))
        #expect(h.code == 1 && h.message == "KeyFile and CertFile must both be present[key: , cert: /c.pem]")
        // Auto TLS stands in for the files.
        #expect(runConfig(Self.httpsClient + Self.httpsPeer + ["--auto-tls", "--peer-auto-tls"]) != nil)
    }

    @Test func allowedCNAndHostnameAreMutuallyExclusive() throws {
        let f = try #require(failure(["--peer-cert-allowed-cn", "a", "--peer-cert-allowed-hostname", "b"]))
        #expect(f.code == 1 && f.message == "AllowedCN and AllowedHostname are mutually exclusive (cn=\"a\", hostname=\"b\")")
    }

    @Test func certificatesBesideHTTPURLsWarnAsEtcdDoes() throws {
        let (c, w) = try #require(runConfig(["--cert-file", "/c", "--key-file", "/k", "--client-cert-auth", "--auto-tls"]))
        #expect(!c.clientTLS.autoTLS, "certificates given win over --auto-tls")
        #expect(w.contains("ignoring client auto TLS since certs given"))
        #expect(w.contains("scheme is HTTP while key and cert files are present; ignoring key and cert files (client-url http://localhost:2379)"))
        #expect(w.contains("scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL (client-url http://localhost:2379)"))
    }

    @Test func everyGoNameIsMapped() {
        // Go 1.19's suites plus etcd's two CHACHA20 aliases: 27 names, none unknown.
        #expect(CipherSuites.table.count == 27)
        #expect(CipherSuites.lookup("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384") == .boringSSL("ECDHE-ECDSA-AES256-GCM-SHA384"))
        #expect(CipherSuites.lookup("tls_ecdhe_ecdsa_with_aes_256_gcm_sha384") == .unknown, "names are case-sensitive, as in Go")
    }
}
