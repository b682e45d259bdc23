import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// A certificate rotated on disk is served from the next handshake on, without a restart, as etcd does (it reads
/// the pair at every handshake); connections already open keep theirs, and a half-written pair is not served.
@Suite struct CertificateRotationTests {
    private static func subject(port: UInt16, certs: TestCertificates) throws -> String {
        let result = try CommandRunner.run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certs.ca],
                                           stdin: "", timeoutSeconds: 10)
        return result.stdout.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? "none: \(result)"
    }

    @Test(.timeLimit(.minutes(2))) func rotatedCertificateIsServedWithoutRestart() throws {
        let certs = try TestCertificates()
        let scratch = try ScratchDirectory(label: "rotation")
        let live = (cert: scratch.child("live.pem"), key: scratch.child("live-key.pem"))
        let files = FileManager.default
        try files.copyItem(atPath: certs.cert("server"), toPath: live.cert)
        try files.copyItem(atPath: certs.key("server"), toPath: live.key)
        let ports = try ServerPorts.pick()
        let client = "https://127.0.0.1:\(ports.client)", peer = "http://127.0.0.1:\(ports.peer)"
        let server = try ServerProcess(kind: .keel, ports: ports, dataDir: scratch.child("data"), arguments: [
            "--name", "n1", "--data-dir", scratch.child("data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "n1=\(peer)",
            "--cert-file", live.cert, "--key-file", live.key,
        ], environment: CommandRunner.cleanEnvironment())
        defer { server.stop() }
        #expect(try Self.subject(port: ports.client, certs: certs) == "subject=CN = server")

        // A new pair (the "client" certificate also serves: same CA, SAN 127.0.0.1), written as a rotation
        // tool does: new files renamed over the old ones.
        for (from, to) in [(certs.cert("client"), live.cert), (certs.key("client"), live.key)] {
            let staged = to + ".new"
            try files.copyItem(atPath: from, toPath: staged)
            try #require(rename(staged, to) == 0, "rename: errno \(errno)")
        }
        #expect(try Self.subject(port: ports.client, certs: certs) == "subject=CN = client")

        // Only the certificate replaced so far (it does not match the key): the last good pair goes on.
        try Data(contentsOf: URL(fileURLWithPath: certs.cert("server"))).write(to: URL(fileURLWithPath: live.cert))
        #expect(try Self.subject(port: ports.client, certs: certs) == "subject=CN = client")
        try Data(contentsOf: URL(fileURLWithPath: certs.key("server"))).write(to: URL(fileURLWithPath: live.key))
        #expect(try Self.subject(port: ports.client, certs: certs) == "subject=CN = server")
    }
}
