import Foundation
import Testing

/// The Security flags' proofs: three single-member starts with certificates made by `openssl`, probed
/// with curl and `openssl s_client` on their client and peer ports.
extension FlagEffectTests {
    func transportSecurity() throws {
        let certs = try TestCertificates()
        try explicitCertificates(certs)
        try hostnameAndSkippedSANCheck(certs)
        try peerAutoTLS(certs)
    }

    static func startMember(_ name: String, clientScheme: String, peerScheme: String,
                              flags: [String]) throws -> (ServerProcess, ServerPorts, ScratchDirectory) {
        let scratch = try ScratchDirectory(label: "flags-\(name)")
        let ports = try ServerPorts.pick()
        let client = "\(clientScheme)://127.0.0.1:\(ports.client)"
        let peer = "\(peerScheme)://127.0.0.1:\(ports.peer)"
        let server = try ServerProcess(kind: .keel, ports: ports, dataDir: scratch.child("data"), arguments: [
            "--name", "n1", "--data-dir", scratch.child("data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
        ] + flags, environment: CommandRunner.cleanEnvironment())
        return (server, ports, scratch)
    }

    /// The subject of the certificate a TLS port presents.
    private static func presentedSubject(port: UInt16, certs: TestCertificates, clientCert: String?) throws -> String {
        var args = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certs.ca]
        if let clientCert { args += ["-cert", certs.cert(clientCert), "-key", certs.key(clientCert)] }
        let result = try CommandRunner.run("/usr/bin/openssl", args, stdin: "", timeoutSeconds: 10)
        return result.stdout.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? "none: \(result)"
    }

    private func refused(_ outcome: TLSProbe.Outcome, _ what: String, logged: String? = nil, by server: ServerProcess) {
        #expect(!outcome.accepted, "\(what) was served: \(outcome.result)")
        if let logged {
            #expect(TLSProbe.awaitLog(logged, in: server), "\(what): no '\(logged)' in the log:\n\(server.log)")
        }
    }

    /// cert/key/trusted-ca/client-cert-auth/client-crl-file/cipher-suites on the client port; peer-cert/key/
    /// trusted-ca/client-cert-auth/crl/allowed-cn on the peer port; the peer port's SAN check (skip flag unset).
    private func explicitCertificates(_ certs: TestCertificates) throws {
        let (server, ports, _) = try Self.startMember("tls-a", clientScheme: "https", peerScheme: "https", flags: [
            "--cert-file", certs.cert("server"), "--key-file", certs.key("server"), "--trusted-ca-file", certs.ca,
            "--client-cert-auth", "--client-crl-file", certs.crl, "--cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "--peer-cert-file", certs.cert("peer"), "--peer-key-file", certs.key("peer"), "--peer-trusted-ca-file", certs.ca,
            "--peer-client-cert-auth", "--peer-crl-file", certs.crl, "--peer-cert-allowed-cn", "peer",
        ])
        defer { server.stop() }
        let client = ports.client, peer = ports.peer

        #expect(try Self.presentedSubject(port: client, certs: certs, clientCert: "client") == "subject=CN = server")
        #expect(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: "client").accepted)
        refused(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: nil), "no client certificate",
                logged: "PEER_DID_NOT_RETURN_A_CERTIFICATE", by: server)
        refused(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: "wrongca"), "another CA's certificate",
                logged: "CERTIFICATE_VERIFY_FAILED", by: server)
        refused(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: "revoked"), "a revoked certificate",
                logged: "transport: certificate serial 03ed revoked", by: server)
        refused(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: "client",
                                 extra: ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"]),
                "a cipher suite outside --cipher-suites", by: server)
        #expect(try TLSProbe.get(port: client, certs: certs, ca: certs.ca, cert: "client",
                                 extra: ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"]).accepted)

        #expect(try Self.presentedSubject(port: peer, certs: certs, clientCert: "peer") == "subject=CN = peer")
        let peerOK = try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: "peer")
        #expect(peerOK.accepted && peerOK.result.stdout.contains("not found"), "\(peerOK.result)")
        refused(try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: nil), "a peer without a certificate", by: server)
        refused(try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: "wrongca"), "a peer from another CA", by: server)
        refused(try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: "intruder"), "CN=intruder on the peer port",
                logged: "client certificate authentication failed", by: server)
        refused(try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: "revokedpeer"), "a revoked peer certificate",
                logged: "transport: certificate serial 03f1 revoked", by: server)
        // etcd's checkSAN: CN=peer, but its only SAN does not name 127.0.0.1.
        refused(try TLSProbe.get(port: peer, path: "/", certs: certs, ca: certs.ca, cert: "elsewhere"), "SANs naming another host",
                logged: "does not match any of DNSNames [\"elsewhere.invalid\"]", by: server)
        #expect(server.exitStatus == nil)
    }

    /// --auto-tls on the client port; --peer-cert-allowed-hostname and the SAN check skipped on the peer port.
    private func hostnameAndSkippedSANCheck(_ certs: TestCertificates) throws {
        let (server, ports, scratch) = try Self.startMember("tls-b", clientScheme: "https", peerScheme: "https", flags: [
            "--auto-tls",
            "--peer-cert-file", certs.cert("peer"), "--peer-key-file", certs.key("peer"), "--peer-trusted-ca-file", certs.ca,
            "--peer-client-cert-auth", "--peer-cert-allowed-hostname", "elsewhere.invalid",
            "--experimental-peer-skip-client-san-verification",
        ])
        defer { server.stop() }
        let cert = scratch.child("data/fixtures/client/cert.pem")
        #expect(FileManager.default.fileExists(atPath: cert) && FileManager.default.fileExists(atPath: scratch.child("data/fixtures/client/key.pem")))
        let health = try TLSProbe.get(port: ports.client, certs: certs, ca: cert, cert: nil)
        #expect(health.result.stdout == #"{"health":"true"}"#, "the generated certificate verifies for 127.0.0.1: \(health.result)")

        // Allowed hostname: the certificate naming it passes (its SAN does not name 127.0.0.1, which is no
        // longer checked); the peers' usual certificate does not name it.
        #expect(try TLSProbe.get(port: ports.peer, path: "/", certs: certs, ca: certs.ca, cert: "elsewhere").accepted)
        refused(try TLSProbe.get(port: ports.peer, path: "/", certs: certs, ca: certs.ca, cert: "peer"),
                "a certificate without the allowed hostname", logged: "client certificate authentication failed", by: server)
        #expect(!server.log.contains("does not match any of DNSNames"), "\(server.log)")
    }

    /// --peer-auto-tls: a generated certificate on the peer port.
    private func peerAutoTLS(_ certs: TestCertificates) throws {
        let (server, ports, scratch) = try Self.startMember("tls-c", clientScheme: "http", peerScheme: "https", flags: ["--peer-auto-tls"])
        defer { server.stop() }
        let cert = scratch.child("data/fixtures/peer/cert.pem")
        let answer = try TLSProbe.get(port: ports.peer, path: "/", certs: certs, ca: cert, cert: nil)
        #expect(answer.accepted && answer.result.stdout.contains("not found"), "\(answer.result)")
        let subject = try CommandRunner.run("/usr/bin/openssl", ["x509", "-in", cert, "-noout", "-subject"])
        #expect(subject.stdout == "subject=O = etcd\n")
    }
}
