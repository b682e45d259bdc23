import Foundation
import Synchronization
import Testing

/// Real etcd and the subject started fresh with the same flags (plain http, or https with mutual TLS),
/// for auth tests: both get the same etcdctl steps in the same order, and every answer must match.
final class AuthPair {
    let scratch: ScratchDirectory
    let certs: TestCertificates?
    private(set) var etcd: ServerProcess
    private(set) var subject: ServerProcess
    private let extraFlags: [String]
    var servers: [ServerProcess] { [etcd, subject] }

    /// `certs` given: the client URL is https with `--client-cert-auth` (peers stay http).
    init(label: String, certs: TestCertificates? = nil, extraFlags: [String] = []) throws {
        let scratch = try ScratchDirectory(label: label)
        self.scratch = scratch
        self.certs = certs
        self.extraFlags = extraFlags
        etcd = try Self.start(.etcd, dataDir: scratch.child("etcd"), ports: try ServerPorts.pick(), certs: certs, extraFlags)
        subject = try Self.start(ServerKind.subject, dataDir: scratch.child("subject"), ports: try ServerPorts.pick(),
                                 certs: certs, extraFlags)
    }

    private static func start(_ kind: ServerKind, dataDir: String, ports: ServerPorts, certs: TestCertificates?,
                              _ extraFlags: [String]) throws -> ServerProcess {
        try ServerProcess(kind: kind, ports: ports, dataDir: dataDir,
                          arguments: flags(dataDir: dataDir, ports: ports, certs: certs) + extraFlags,
                          environment: CommandRunner.cleanEnvironment())
    }

    /// Stops both (SIGTERM) and starts them again on their data dirs and ports.
    func restart() throws {
        etcd.stop()
        subject.stop()
        etcd = try Self.start(.etcd, dataDir: etcd.dataDir, ports: etcd.ports, certs: certs, extraFlags)
        subject = try Self.start(subject.kind, dataDir: subject.dataDir, ports: subject.ports, certs: certs, extraFlags)
    }

    static func flags(dataDir: String, ports: ServerPorts, certs: TestCertificates?) -> [String] {
        let client = "\(certs == nil ? "http" : "https")://127.0.0.1:\(ports.client)"
        let peer = "http://127.0.0.1:\(ports.peer)"
        var flags = [
            "--name", "n1", "--data-dir", dataDir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
        ]
        if let certs {
            flags += ["--cert-file", certs.cert("server"), "--key-file", certs.key("server"),
                      "--trusted-ca-file", certs.ca, "--client-cert-auth"]
        }
        return flags
    }

    func endpoint(_ server: ServerProcess) -> String {
        certs == nil ? server.endpoint : "https://\(server.endpoint)"
    }

    /// etcdctl against `server`, presenting certificate `cert` when TLS is on, as `user` ("name:password") if given.
    func etcdctl(_ server: ServerProcess, user: String? = nil, cert: String = "client") -> Etcdctl {
        var flags = certs?.etcdctlFlags(cert) ?? []
        if let user { flags += ["--user", user] }
        return Etcdctl(endpoint: endpoint(server), flags: flags)
    }

    /// Runs `steps` against both servers (each server's steps in order, the two servers at once), then
    /// compares each step's normalised answer and checks that etcd's contains what the step says it must.
    func play(_ steps: [CtlStep], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let answers = try bothAtOnce { server in try steps.map { try $0.answer(from: self, server) } }
        let (expected, actual) = (answers[0], answers[1])
        for (i, step) in steps.enumerated() {
            #expect(expected[i].contains(step.etcdSays),
                    "etcd's answer to \(step) lacks '\(step.etcdSays)':\n\(expected[i])", sourceLocation: sourceLocation)
            #expect(expected[i] == actual[i], "\(step)\n etcd: \(expected[i])\n subject: \(actual[i])",
                    sourceLocation: sourceLocation)
        }
    }

    /// `body` for etcd and for the subject on two threads; results in that order.
    func bothAtOnce<T: Sendable>(_ body: (ServerProcess) throws -> T) throws -> [T] {
        try withoutActuallyEscaping(body) { body in
            let run = ParallelRun(servers: servers, body: body)
            DispatchQueue.concurrentPerform(iterations: 2) { i in run.perform(i) }
            return try run.results()
        }
    }

    deinit {
        etcd.kill9()
        subject.kill9()
    }
}

/// Carries one server and the body to each of `concurrentPerform`'s two threads. Unchecked: each thread uses
/// only its own server and result slot, and `concurrentPerform` returns only once both are done.
private final class ParallelRun<T: Sendable>: @unchecked Sendable {
    let servers: [ServerProcess]
    let body: (ServerProcess) throws -> T
    private let slots = Mutex<[Int: Result<T, Error>]>([:])

    init(servers: [ServerProcess], body: @escaping (ServerProcess) throws -> T) {
        (self.servers, self.body) = (servers, body)
    }

    func perform(_ i: Int) {
        let result = Result { try body(servers[i]) }
        slots.withLock { $0[i] = result }
    }

    func results() throws -> [T] {
        try slots.withLock { done in try servers.indices.map { try done[$0]!.get() } }
    }
}

/// One etcdctl invocation of an auth sequence and what etcd must answer to it.
struct CtlStep: CustomStringConvertible {
    enum Compared { case everything, exitAndErrors }
    var args: [String]
    var user: String?
    var cert = "client"
    var stdin: String?
    /// Text etcd's answer contains: what the step shows, and a guard against both servers failing alike.
    var etcdSays: String
    /// `.exitAndErrors` where stdout carries per-server facts (db size, raft index, latency).
    var compared = Compared.everything
    var json = false

    init(_ args: [String], user: String? = nil, cert: String = "client", stdin: String? = nil, json: Bool = false,
         compared: Compared = .everything, _ etcdSays: String) {
        (self.args, self.user, self.cert, self.stdin, self.json, self.compared, self.etcdSays) =
            (args, user, cert, stdin, json, compared, etcdSays)
    }

    var description: String {
        "etcdctl \(user.map { "--user \($0) " } ?? "")\(json ? "-w json " : "")\(args.joined(separator: " "))"
            + (cert == "client" ? "" : " [cert \(cert)]") + (stdin.map { " <<< \($0.debugDescription)" } ?? "")
    }

    /// "exit N | stdout | error lines", with what differs between any two servers replaced by placeholders.
    func answer(from pair: AuthPair, _ server: ServerProcess) throws -> String {
        let result = try pair.etcdctl(server, user: user, cert: cert).run(args, json: json, stdin: stdin)
        let stdout = compared == .everything ? result.stdout : "<not compared>"
        let text = "exit \(result.exitCode.map(String.init) ?? "\(result.status)") | \(stdout) | "
            + result.etcdctlErrorLines.joined(separator: "\n")
        return AuthNormalise.text(text, server: server)
    }
}

enum AuthNormalise {
    /// Ports, ids and per-server JSON header fields out; revisions stay (both servers saw the same writes).
    static func text(_ text: String, server: ServerProcess) -> String {
        var out = text
            .replacingOccurrences(of: String(server.ports.client), with: "<client-port>")
            .replacingOccurrences(of: String(server.ports.peer), with: "<peer-port>")
            .replacingOccurrences(of: #""(cluster_id|member_id|raft_term)":"?\d+"?,?"#, with: "", options: .regularExpression)
        out = out.replacingOccurrences(of: #"took = [^ \n"]+"#, with: "took = <time>", options: .regularExpression)
        // Member and lease ids (hex, as etcdctl prints them).
        out = out.replacingOccurrences(of: #"\b[0-9a-f]{10,16}\b"#, with: "<id>", options: .regularExpression)
        return out
    }
}
