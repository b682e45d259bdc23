import Foundation
import Testing

/// TLS refusals TLSTests and FlagEffectTests+TLS do not cover (those cover another CA's, expired and revoked
/// client certificates, no certificate, a peer CN not allowed, plaintext to a TLS port and TLS to a plaintext
/// one, a cipher suite outside --cipher-suites), each against keel and real etcd 3.4 with the same certificates.
@Suite struct TLSNegativeTests {
    /// Below TLS 1.2 the handshake is refused (etcd sets MinVersion TLS 1.2); 1.2 and 1.3 are served. A client
    /// that does not trust the server's CA gives up on its own, against both alike.
    @Test func oldProtocolVersionsAndAnUntrustedServerAreRefused() throws {
        let certs = try TestCertificates()
        let pair = try AuthPair(label: "tls-versions", certs: certs)
        for server in pair.servers {
            // openssl offers TLS 1.1 (security level 0 lets it); the server answers a protocol_version alert.
            let old = try CommandRunner.run("/usr/bin/openssl", [
                "s_client", "-connect", "127.0.0.1:\(server.ports.client)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                "-CAfile", certs.ca, "-cert", certs.cert("client"), "-key", certs.key("client"),
            ], stdin: "", timeoutSeconds: 10)
            #expect(old.exitCode != 0 && (old.stdout + old.stderr).contains("alert protocol version"),
                    "\(server.kind) with TLS 1.1: \(old)")
            for version in ["1.2", "1.3"] {
                let served = try TLSProbe.get(port: server.ports.client, certs: certs, ca: certs.ca, cert: "client",
                                              extra: ["--tlsv\(version)", "--tls-max", version])
                #expect(served.result.stdout == #"{"health":"true"}"#, "\(server.kind) TLS \(version): \(served.result)")
            }
        }
        let untrusted = try pair.bothAtOnce { server in
            try Etcdctl(endpoint: pair.endpoint(server),
                        flags: ["--cacert", certs.path("ca2.pem"), "--cert", certs.cert("client"), "--key", certs.key("client"),
                                "--insecure-transport=false", "--dial-timeout", "1s", "--command-timeout", "1s"]).run(["get", "k"])
        }
        #expect(untrusted[0].etcdctlErrorLines == ["Error: context deadline exceeded"], "\(untrusted[0])")
        #expect(untrusted[0].etcdctlErrorLines == untrusted[1].etcdctlErrorLines, "subject: \(untrusted[1])")
        #expect(untrusted[0].exitCode == untrusted[1].exitCode)
    }

    /// A key that is not the certificate's, or a certificate file that is not there: the server exits non-zero
    /// naming the problem, as etcd does.
    @Test func badServerCertificateFilesStopTheServer() throws {
        let certs = try TestCertificates()
        let cases: [(name: String, cert: String, key: String, says: String)] = [
            ("a key that is not the certificate's", certs.cert("server"), certs.key("client"), "private key does not match public key"),
            ("a missing certificate file", certs.path("missing.pem"), certs.key("server"), "missing.pem: no such file or directory"),
        ]
        for c in cases {
            for kind in [ServerKind.etcd, .subject] {
                let scratch = try ScratchDirectory(label: "tls-bad-files")
                let ports = try ServerPorts.pick()
                var flags = AuthPair.flags(dataDir: scratch.child("data"), ports: ports, certs: certs)
                flags[flags.firstIndex(of: "--cert-file")! + 1] = c.cert
                flags[flags.firstIndex(of: "--key-file")! + 1] = c.key
                let server = try ServerProcess(kind: kind, ports: ports, dataDir: scratch.child("data"), arguments: flags,
                                               environment: CommandRunner.cleanEnvironment(), waitUntilReady: false)
                let status = server.waitForExit(timeoutSeconds: 20)
                if status == nil { server.kill9() }
                #expect(status != nil && status != .exited(0), "\(kind) with \(c.name): \(status.map { "\($0)" } ?? "still running")")
                #expect(server.log.contains(c.says), "\(kind) with \(c.name) does not say '\(c.says)':\n\(server.log)")
            }
        }
    }
}
