import Foundation
import KeelClient
import Testing

/// KeelClient with etcd's auth and over TLS, against etcd and Keel alike.
@Suite struct AuthTLSTests {
    static let servers: [ServerKind] = [.etcd, .keel]

    /// root and alice (reading and writing the "a" prefix only), auth enabled, tokens idle-expiring after 1 s.
    private static func securedServer(_ kind: ServerKind) throws -> ClientServer {
        let server = try ClientServer(kind, label: "auth", extraFlags: ["--auth-token-ttl", "1"])
        let ctl = Etcdctl(endpoint: server.endpoint)
        for args in [["user", "add", "root:rootpw"], ["user", "add", "alice:alicepw"], ["role", "add", "ra"],
                     ["role", "grant-permission", "ra", "readwrite", "a", "--prefix"], ["user", "grant-role", "alice", "ra"],
                     ["auth", "enable"]] {
            _ = try ctl.succeed(args)
        }
        return server
    }

    private func client(_ server: ClientServer, _ user: String?, _ password: String?) throws -> EtcdClient {
        var options = EtcdClient.Options()
        (options.username, options.password) = (user, password)
        return try EtcdClient(endpoints: [server.endpoint], options: options)
    }

    private func refusal(_ body: () async throws -> Void) async -> EtcdError? {
        do { try await body(); return nil } catch let e as EtcdError { return e } catch { return .unavailable("\(error)") }
    }

    @Test(.timeLimit(.minutes(2)), arguments: AuthTLSTests.servers)
    func authenticatesChecksAndRenewsItsToken(_ kind: ServerKind) async throws {
        let server = try Self.securedServer(kind)
        defer { server.stop() }
        let alice = try client(server, "alice", "alicepw")
        try await alice.put("a1", "v")
        #expect(try await alice.get("a1").kvs.map(\.valueString) == ["v"])
        #expect(await refusal { try await alice.put("b1", "v") } == .server(code: .permissionDenied, message: "etcdserver: permission denied"))
        // The token idles out (--auth-token-ttl 1): the next call is refused as "invalid auth token", and the
        // client authenticates again and sends it once more, as clientv3 does.
        try await Task.sleep(nanoseconds: 2_200_000_000)
        #expect(try await alice.get("a1").kvs.map(\.valueString) == ["v"])
        try await alice.close()

        let wrong = try client(server, "alice", "nope")
        #expect(await refusal { _ = try await wrong.get("a1") }
                == .server(code: .invalidArgument, message: "etcdserver: authentication failed, invalid user ID or password"))
        try await wrong.close()
        let anonymous = try client(server, nil, nil)
        #expect(await refusal { _ = try await anonymous.get("a1") } == .server(code: .invalidArgument, message: "etcdserver: user name is empty"))
        try await anonymous.close()
    }

    /// https with --client-cert-auth: the client presents its certificate and verifies the server's.
    @Test(.timeLimit(.minutes(2)), arguments: AuthTLSTests.servers)
    func speaksMutualTLS(_ kind: ServerKind) async throws {
        let certs = try TestCertificates()
        let scratch = try ScratchDirectory(label: "client-tls-\(kind)")
        let ports = try ServerPorts.pick()
        let client = "https://127.0.0.1:\(ports.client)", peer = "http://127.0.0.1:\(ports.peer)"
        let server = try ServerProcess(kind: kind, ports: ports, dataDir: scratch.child("data"), arguments: [
            "--name", "n1", "--data-dir", scratch.child("data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
            "--cert-file", certs.cert("server"), "--key-file", certs.key("server"), "--trusted-ca-file", certs.ca,
            "--client-cert-auth",
        ], environment: CommandRunner.cleanEnvironment())
        defer { server.stop() }

        var options = EtcdClient.Options()
        options.tls = .init(trustedCAFile: certs.ca, certFile: certs.cert("client"), keyFile: certs.key("client"))
        let secure = try EtcdClient(endpoints: [client], options: options)
        try await secure.put("k", "over tls")
        #expect(try await secure.get("k").kvs.map(\.valueString) == ["over tls"])
        try await secure.close()

        // Without a certificate the handshake is refused: no endpoint is available.
        options.tls = .init(trustedCAFile: certs.ca)
        options.requestTimeout = .seconds(5)
        let bare = try EtcdClient(endpoints: [client], options: options)
        let error = await refusal { _ = try await bare.get("k") }
        #expect(error?.isUnavailable == true, "\(String(describing: error))")
        try await bare.close()
    }
}
