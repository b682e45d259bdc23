import Foundation
import XCTest

/// The fault proxy on loopback (no namespace), in front of a real member's client port: a delay holds
/// every byte from the source back by at least its length, in order, and healing restores the pace.
final class PeerProxyTests: XCTestCase {
    func testDelayHoldsBytesBackAndHealingRestoresThePace() throws {
        let scratch = try ScratchDirectory(label: "proxy-delay")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("data"))
        defer { server.stop() }
        let port = try unclaimedLocalPort()
        let proxy = try PeerProxy(namespace: nil, listenHost: "127.0.0.1", listenPort: port, targetPort: server.ports.client)
        defer { proxy.stop() }
        let ctl = Etcdctl(endpoint: "127.0.0.1:\(port)")
        try ctl.succeed(["put", "k", "v"])

        proxy.delay(from: "127.0.0.1", milliseconds: 300)
        let started = ContinuousClock.now
        XCTAssertEqual(try ctl.succeed(["get", "k", "--print-value-only"]), "v\n")
        // A new connection's request crosses the proxy at least once after the client's preface.
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(300))

        proxy.delay(from: "127.0.0.1", milliseconds: 0)
        XCTAssertEqual(try ctl.succeed(["get", "k", "--print-value-only"]), "v\n")
        XCTAssertGreaterThan(proxy.forwardedBytes(from: "127.0.0.1"), 0)
    }
}
