import Foundation
import NIOCore
import NIOPosix
import RPC
import Synchronization
import Transport
import XCTest

/// Issue 13, TLS half: the real `keel` binary with certificates made by `openssl` at test time, driven by
/// real etcdctl, python3-etcd3 and curl; where behaviour is in doubt, real etcd 3.4 gets the same
/// certificates and flags and the same clients.
final class TLSTests: XCTestCase {
    /// A single member serving https (mutual auth, CRL) and http client URLs side by side.
    static func secureMemberFlags(_ certs: TestCertificates, dataDir: String, ports: ServerPorts, plainPort: UInt16,
                                  extra: [String] = []) -> [String] {
        let tls = "https://127.0.0.1:\(ports.client)"
        let plain = "http://127.0.0.1:\(plainPort)"
        let peer = "http://127.0.0.1:\(ports.peer)"
        return [
            "--name", "n1", "--data-dir", dataDir,
            "--listen-client-urls", "\(tls),\(plain)", "--advertise-client-urls", tls,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
            "--cert-file", certs.cert("server"), "--key-file", certs.key("server"),
            "--trusted-ca-file", certs.ca, "--client-cert-auth", "--client-crl-file", certs.crl,
        ] + extra
    }

    func testEtcdctlPythonAndCurlOverMutualTLSBesidePlainHTTP() throws {
        let certs = try TestCertificates()
        let scratch = try ScratchDirectory(label: "tls-clients")
        let ports = try ServerPorts.pick()
        let plainPort = try ServerPorts.pick().client
        let server = try ServerProcess(kind: .keel, ports: ports, dataDir: scratch.child("data"),
                                       arguments: Self.secureMemberFlags(certs, dataDir: scratch.child("data"), ports: ports,
                                                                         plainPort: plainPort),
                                       environment: CommandRunner.cleanEnvironment())
        defer { server.stop() }
        let tlsURL = "https://127.0.0.1:\(ports.client)"

        // etcdctl with --cacert --cert --key and --insecure-transport=false.
        let etcdctl = Etcdctl(endpoint: tlsURL, flags: certs.etcdctlFlags())
        try etcdctl.succeed(["put", "tls-key", "over-tls"])
        XCTAssertEqual(try etcdctl.succeed(["get", "tls-key"]), "tls-key\nover-tls\n")
        // The http:// listener beside it serves the same data in plaintext, as etcd allows.
        XCTAssertEqual(try Etcdctl(endpoint: "127.0.0.1:\(plainPort)").succeed(["get", "tls-key"]), "tls-key\nover-tls\n")

        // python3-etcd3 over TLS (grpc with ca_cert / cert_key / cert_cert).
        let script = """
        import etcd3
        c = etcd3.client(host="127.0.0.1", port=\(ports.client), timeout=10, ca_cert="\(certs.ca)",
                         cert_key="\(certs.key("client"))", cert_cert="\(certs.cert("client"))")
        c.put("py-key", "from-python")
        v, _ = c.get("tls-key")
        print(v.decode())
        """
        let python = try CommandRunner.run(ServerBinaries.python, ["-c", script],
                                           environment: CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"]),
                                           timeoutSeconds: 20)
        XCTAssertEqual(python.exitCode, 0, "\(python)")
        XCTAssertEqual(python.stdout, "over-tls\n")
        XCTAssertEqual(try etcdctl.succeed(["get", "py-key", "--print-value-only"]), "from-python\n")

        // HTTP/1.1 (health, version: the gateway's path) and HTTP/2 (ALPN h2) on the same TLS port.
        let http1 = try TLSProbe.get(port: ports.client, certs: certs, ca: certs.ca, cert: "client", extra: ["--http1.1"])
        XCTAssertEqual(http1.result.stdout, #"{"health":"true"}"#, "\(http1.result)")
        let http2 = try TLSProbe.get(port: ports.client, path: "/version", certs: certs, ca: certs.ca, cert: "client",
                                     extra: ["--http2", "--write-out", "\n%{http_version}"])
        XCTAssertTrue(http2.result.stdout.hasSuffix("\n2"), "negotiated HTTP/2 over TLS: \(http2.result)")
        XCTAssertTrue(http2.result.stdout.contains("etcdserver"), "\(http2.result)")
    }

    /// Each refusal closes only that connection with a logged reason, and etcdctl fails against real etcd 3.4
    /// in the same way for the same certificates.
    func testRefusedConnectionsAreLoggedAndMatchEtcd() throws {
        let certs = try TestCertificates()
        var servers: [ServerKind: (ServerProcess, UInt16, UInt16)] = [:]
        var scratches: [ScratchDirectory] = []
        for kind in [ServerKind.keel, .etcd] {
            let scratch = try ScratchDirectory(label: "tls-refusals-\(kind)")
            scratches.append(scratch)
            let ports = try ServerPorts.pick()
            let plainPort = try ServerPorts.pick().client
            let flags = Self.secureMemberFlags(certs, dataDir: scratch.child("data"), ports: ports, plainPort: plainPort,
                                               extra: ["--cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])
            let server = try ServerProcess(kind: kind, ports: ports, dataDir: scratch.child("data"), arguments: flags,
                                           environment: CommandRunner.cleanEnvironment())
            servers[kind] = (server, ports.client, plainPort)
        }
        defer { for (server, _, _) in servers.values { server.stop() } }

        struct Case {
            let name: String
            let url: (UInt16, UInt16) -> String
            let flags: [String]
            let keelLog: String?
        }
        let tls: (UInt16, UInt16) -> String = { port, _ in "https://127.0.0.1:\(port)" }
        let cases = [
            Case(name: "certificate from another CA", url: tls, flags: certs.etcdctlFlags("wrongca"),
                 keelLog: "CERTIFICATE_VERIFY_FAILED"),
            Case(name: "expired certificate", url: tls, flags: certs.etcdctlFlags("expired"), keelLog: "CERTIFICATE_VERIFY_FAILED"),
            Case(name: "revoked certificate (CRL)", url: tls, flags: certs.etcdctlFlags("revoked"),
                 keelLog: "transport: certificate serial 03ed revoked"),
            Case(name: "no client certificate", url: tls, flags: certs.etcdctlFlags(nil), keelLog: "PEER_DID_NOT_RETURN_A_CERTIFICATE"),
            Case(name: "plaintext to the TLS port", url: { port, _ in "http://127.0.0.1:\(port)" }, flags: [],
                 keelLog: "WRONG_VERSION_NUMBER"),
            Case(name: "TLS client to the plaintext port", url: { _, plain in "https://127.0.0.1:\(plain)" },
                 flags: certs.etcdctlFlags(), keelLog: nil),
        ]
        // Every case against both servers at once: each failing etcdctl mostly waits out its dial timeout.
        let kinds = Array(servers.keys)
        let runs = Mutex<[String: CommandResult]>([:])
        let errors = Mutex<[String]>([])
        var jobs: [(key: String, url: String, flags: [String])] = []
        for c in cases {
            for kind in kinds {
                let (_, port, plain) = servers[kind]!
                jobs.append(("\(c.name)/\(kind)", c.url(port, plain), c.flags + ["--dial-timeout", "1s", "--command-timeout", "2s"]))
            }
        }
        let work = jobs
        DispatchQueue.concurrentPerform(iterations: work.count) { i in
            do {
                let result = try Etcdctl(endpoint: work[i].url, flags: work[i].flags).run(["get", "k"])
                runs.withLock { $0[work[i].key] = result }
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertTrue(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
        let (keelServer, _, _) = try XCTUnwrap(servers[.keel])
        for c in cases {
            let keel = try XCTUnwrap(runs.withLock { $0["\(c.name)/keel"] })
            let etcd = try XCTUnwrap(runs.withLock { $0["\(c.name)/etcd"] })
            XCTAssertNotEqual(keel.exitCode, 0, "\(c.name) against keel was served:\n\(keel)")
            XCTAssertNotEqual(etcd.exitCode, 0, "\(c.name) against etcd was served:\n\(etcd)")
            XCTAssertEqual(keel.exitCode, etcd.exitCode, "\(c.name): etcdctl exits differently")
            if let text = c.keelLog {
                XCTAssertTrue(TLSProbe.awaitLog(text, in: keelServer), "\(c.name): no logged reason '\(text)' in:\n\(keelServer.log)")
            }
        }
        XCTAssertTrue(keelServer.log.contains("rejected connection from \"127.0.0.1:"), keelServer.log)

        // --cipher-suites: a TLS 1.2 client offering only another suite is refused; the listed one is served.
        for (kind, (_, port, _)) in servers {
            let refused = try TLSProbe.get(port: port, certs: certs, ca: certs.ca, cert: "client",
                                           extra: ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"])
            XCTAssertFalse(refused.accepted, "\(kind) served a cipher suite outside --cipher-suites: \(refused.result)")
            let served = try TLSProbe.get(port: port, certs: certs, ca: certs.ca, cert: "client",
                                          extra: ["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"])
            XCTAssertTrue(served.accepted, "\(kind) refused the listed cipher suite: \(served.result)")
        }

        // Nothing above disturbed the server: a good client is still served, and the process runs.
        let (keel, port, _) = try XCTUnwrap(servers[.keel])
        XCTAssertNil(keel.exitStatus)
        let good = Etcdctl(endpoint: "https://127.0.0.1:\(port)", flags: certs.etcdctlFlags())
        try good.succeed(["put", "after", "refusals"])
        XCTAssertEqual(try good.succeed(["get", "after", "--print-value-only"]), "refusals\n")
    }

    /// Three members with TLS peers (mutual auth, allowed CN, CRL) and mutual client auth: writers over TLS
    /// keep going through a leader kill, and every acknowledged write survives on every member.
    func testThreeMemberTLSClusterSurvivesKillingTheLeader() async throws {
        let certs = try TestCertificates()
        let security = KeelCluster.Security(
            peerTLS: true, clientTLS: true,
            serverFlags: ["--peer-cert-file", certs.cert("peer"), "--peer-key-file", certs.key("peer"),
                          "--peer-trusted-ca-file", certs.ca, "--peer-client-cert-auth", "--peer-cert-allowed-cn", "peer",
                          "--peer-crl-file", certs.crl,
                          "--cert-file", certs.cert("server"), "--key-file", certs.key("server"),
                          "--trusted-ca-file", certs.ca, "--client-cert-auth"],
            etcdctlFlags: certs.etcdctlFlags())
        let cluster = try KeelCluster(size: 3, security: security)
        defer { cluster.stopAll() }
        let oldLeader = try cluster.awaitLeader()

        // A CA-signed certificate whose CN is not the peers' is refused on a peer port.
        let intruder = try TLSProbe.get(port: cluster.members[0].ports.peer, path: "/", certs: certs, ca: certs.ca, cert: "intruder")
        XCTAssertFalse(intruder.accepted, "\(intruder.result)")
        XCTAssertTrue(TLSProbe.awaitLog("client certificate authentication failed", in: cluster.members[0].process!),
                      cluster.members[0].process!.log)

        let tls = try TLSClientSecurity(
            context: TLSClientSecurity.makeContext(certFile: certs.cert("client"), keyFile: certs.key("client"),
                                                   trustedCAFile: certs.ca, skipVerify: false, cipherSuites: []),
            onReject: { _ in })
        let acked = AckedWrites()
        let stop = StopFlag()
        let group = MultiThreadedEventLoopGroup.singleton
        var writers: [Task<Void, Never>] = []
        for (i, m) in cluster.members.enumerated() {
            for w in 0..<2 {
                let port = Int(m.ports.client)
                writers.append(Task {
                    guard let conn = try? await GRPCClientConnection.connect(host: "127.0.0.1", port: port, group: group,
                                                                              tls: tls) else { return }
                    let client = DurabilityClient(connection: conn)
                    var n = 0
                    while !stop.isSet {
                        let key = Array("w/\(i)-\(w)/\(String(format: "%06d", n))".utf8)
                        let value = Array("v\(n)".utf8)
                        if (try? await client.put(key, value)) != nil { acked.add(key, value) }
                        n += 1
                    }
                    await client.close()
                })
            }
        }
        let warmup = Date().addingTimeInterval(10)
        while acked.count < 100 && Date() < warmup { try await Task.sleep(for: .milliseconds(50)) }
        let before = acked.count
        cluster.kill9(oldLeader)
        let newLeader = try cluster.awaitLeader(excluding: [oldLeader])
        XCTAssertNotEqual(newLeader, oldLeader)
        let atElection = acked.count
        let deadline = Date().addingTimeInterval(10)
        while acked.count < atElection + 100 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        stop.set()
        for w in writers { await w.value }
        XCTAssertGreaterThan(before, 50, "writes over TLS were acknowledged before the kill")
        XCTAssertGreaterThan(acked.count, atElection + 50, "writes over TLS were acknowledged after the new election")

        try cluster.restart(oldLeader)
        let all = acked.snapshot
        for (i, m) in cluster.members.enumerated() {
            let conn = try await GRPCClientConnection.connect(host: "127.0.0.1", port: Int(m.ports.client), group: group, tls: tls)
            let client = DurabilityClient(connection: conn)
            let stored = try await client.range(from: Array("w/".utf8), to: Array("w0".utf8))
            await client.close()
            var missing = 0
            for (k, v) in all where stored[k]?.value != v { missing += 1 }
            XCTAssertEqual(missing, 0, "member \(i) lost \(missing) of \(all.count) acknowledged writes")
        }
        // A follower forwards what only the leader answers (lease time-to-live and keep-alive) to the leader's
        // https client URL, over TLS with its own certificate.
        let follower = (newLeader + 1) % 3
        let grant = try cluster.etcdctl(follower).succeed(["lease", "grant", "60"])
        let lease = try XCTUnwrap(grant.split(separator: " ").dropFirst().first.map(String.init), grant)
        let ttl = try cluster.etcdctl(follower).succeed(["lease", "timetolive", lease])
        XCTAssertTrue(ttl.contains("granted with TTL(60s)"), ttl)
        let kept = try cluster.etcdctl(follower).succeed(["lease", "keep-alive", "--once", lease])
        XCTAssertTrue(kept.contains("keepalived with TTL(60)"), kept)
        // The restarted member rejoined over TLS: a write through it is replicated and read back.
        try cluster.etcdctl(oldLeader).succeed(["put", "rejoined", "yes"])
        XCTAssertEqual(try cluster.etcdctl(newLeader).succeed(["get", "rejoined", "--print-value-only"]), "yes\n")
    }

    /// --auto-tls / --peer-auto-tls write etcd's layout (<data-dir>/fixtures/client and /peer) as etcd does,
    /// serve TLS with it, and reuse the files on restart.
    func testAutoTLSWritesEtcdsLayoutAndReusesIt() throws {
        var dirs: [ServerKind: String] = [:]
        var scratches: [ScratchDirectory] = []
        var keelRun: (ServerProcess, ServerPorts, [String])?
        for kind in [ServerKind.keel, .etcd] {
            let scratch = try ScratchDirectory(label: "auto-tls-\(kind)")
            scratches.append(scratch)
            let ports = try ServerPorts.pick()
            let client = "https://127.0.0.1:\(ports.client)"
            let peer = "https://127.0.0.1:\(ports.peer)"
            let flags = ["--name", "n1", "--data-dir", scratch.child("data"),
                         "--listen-client-urls", client, "--advertise-client-urls", client,
                         "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
                         "--auto-tls", "--peer-auto-tls"]
            let server = try ServerProcess(kind: kind, ports: ports, dataDir: scratch.child("data"), arguments: flags,
                                           environment: CommandRunner.cleanEnvironment())
            let etcdctl = Etcdctl(endpoint: client, flags: ["--insecure-skip-tls-verify", "--insecure-transport=false"])
            try etcdctl.succeed(["put", "auto", "tls"])
            XCTAssertEqual(try etcdctl.succeed(["get", "auto", "--print-value-only"]), "tls\n", "\(kind)")
            dirs[kind] = scratch.child("data")
            if kind == .keel { keelRun = (server, ports, flags) } else { server.stop() }
        }
        for (kind, dir) in dirs {
            for side in ["client", "peer"] {
                for file in ["cert.pem", "key.pem"] {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/fixtures/\(side)/\(file)"), "\(kind): \(side)/\(file)")
                }
                let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/fixtures/\(side)/key.pem")[.posixPermissions] as? Int
                XCTAssertEqual(mode, 0o600, "\(kind): \(side)/key.pem mode")
            }
        }
        // The certificate names the listen host, as etcd's does; a restart serves the same certificate.
        let (server, ports, flags) = try XCTUnwrap(keelRun)
        let certPath = try XCTUnwrap(dirs[.keel]) + "/fixtures/client/cert.pem"
        let text = try CommandRunner.run("/usr/bin/openssl", ["x509", "-in", certPath, "-noout", "-subject", "-ext", "subjectAltName"])
        XCTAssertTrue(text.stdout.contains("O = etcd") && text.stdout.contains("IP Address:127.0.0.1"), "\(text)")
        let before = try Data(contentsOf: URL(fileURLWithPath: certPath))
        server.stop()
        let again = try ServerProcess(kind: .keel, ports: ports, dataDir: try XCTUnwrap(dirs[.keel]), arguments: flags,
                                      environment: CommandRunner.cleanEnvironment())
        defer { again.stop() }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: certPath)), before)
        let etcdctl = Etcdctl(endpoint: "https://127.0.0.1:\(ports.client)", flags: ["--insecure-skip-tls-verify", "--insecure-transport=false"])
        XCTAssertEqual(try etcdctl.succeed(["get", "auto", "--print-value-only"]), "tls\n")
    }
}
