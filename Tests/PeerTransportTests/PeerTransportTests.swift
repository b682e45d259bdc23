import Foundation
import NIOCore
import NIOPosix
import RPC
import Raft
import XCTest
@testable import PeerTransport

final class MessageStreamTests: PeerTransportTestCase {
    func testTwoTransportsExchangeThousandsOfMessagesInOrder() async throws {
        let a = member(1), b = member(2)
        try await a.listen()
        try await b.listen()
        await connectAll([a, b])
        let n = 5000
        let aGotAll = a.handler.expectation("a got all") { $0.received.count == n }
        let bGotAll = b.handler.expectation("b got all") { $0.received.count == n }
        // Batches the size of a Raft Ready, sent from two threads at once.
        async let fromA: Void = Task.detached {
            for start in stride(from: 0, to: n, by: 50) {
                a.transport.send((start..<start + 50).map { testMessage(from: 1, to: 2, index: $0) })
            }
        }.value
        async let fromB: Void = Task.detached {
            for start in stride(from: 0, to: n, by: 50) {
                b.transport.send((start..<start + 50).map { testMessage(from: 2, to: 1, index: $0) })
            }
        }.value
        _ = await (fromA, fromB)
        await fulfillment(of: [aGotAll, bGotAll], timeout: 30)
        XCTAssertEqual(b.handler.state.received, (0..<n).map { testMessage(from: 1, to: 2, index: $0) })
        XCTAssertEqual(a.handler.state.received, (0..<n).map { testMessage(from: 2, to: 1, index: $0) })
        XCTAssertTrue(a.transport.isConnected(2))
        XCTAssertTrue(b.transport.isConnected(1))
        XCTAssertEqual(a.handler.state.unreachable[2] ?? 0, 0)
    }

    func testThreeTransportsAllToAll() async throws {
        let members = [member(1), member(2), member(3)]
        for m in members { try await m.listen() }
        await connectAll(members)
        let n = 2000
        let done = members.map { m in m.handler.expectation("\(m.id) got all") { $0.received.count == 2 * n } }
        await withTaskGroup(of: Void.self) { tasks in
            for m in members {
                tasks.addTask {
                    for start in stride(from: 0, to: n, by: 100) {
                        var batch: [Message] = []
                        for other in members where other.id != m.id {
                            batch += (start..<start + 100).map { testMessage(from: m.id, to: other.id, index: $0) }
                        }
                        m.transport.send(batch)
                    }
                }
            }
        }
        await fulfillment(of: done, timeout: 30)
        for m in members {
            for other in members where other.id != m.id {
                let got = m.handler.state.received.filter { $0.from == other.id }
                XCTAssertEqual(got, (0..<n).map { testMessage(from: other.id, to: m.id, index: $0) },
                               "\(other.id) -> \(m.id) in order")
            }
        }
    }

    func testPeerThatStartsLateIsReachedOnceItListens() async throws {
        let a = member(1)
        let port = try await freePort()
        let dialFailed = a.handler.expectation("dial to the absent peer failed") { ($0.unreachable[2] ?? 0) >= 1 }
        a.transport.addPeer(id: 2, urls: ["http://127.0.0.1:\(port)"])
        a.transport.send([testMessage(from: 1, to: 2, index: 0)])
        await fulfillment(of: [dialFailed], timeout: 10)
        XCTAssertFalse(a.transport.isConnected(2))

        let b = member(2)
        try await b.listen(port: port)
        await fulfillment(of: [a.handler.expectation("a reached b") { $0.connected.contains(2) }], timeout: 10)
        XCTAssertTrue(a.transport.isConnected(2))
        let got = b.handler.expectation("b got them") { $0.received.contains { $0.index == 999 } }
        a.transport.send((1..<1000).map { testMessage(from: 1, to: 2, index: $0) })
        await fulfillment(of: [got], timeout: 10)
        // Everything sent once the stream was live arrived, in order (the message sent before may be lost).
        XCTAssertEqual(b.handler.state.received.filter { $0.index >= 1 }, (1..<1000).map { testMessage(from: 1, to: 2, index: $0) })
    }

    func testPeerRestartBreaksTheStreamAndReconnects() async throws {
        let a = member(1), b = member(2)
        try await a.listen()
        let port = try await b.listen()
        await connectAll([a, b])

        let broke = a.handler.expectation("a saw b go") { ($0.disconnections[2] ?? 0) == 1 && ($0.unreachable[2] ?? 0) >= 1 }
        await b.transport.shutdown()
        await fulfillment(of: [broke], timeout: 10)
        XCTAssertFalse(a.transport.isConnected(2))

        let b2 = member(2)
        try await b2.listen(port: port)
        await fulfillment(of: [a.handler.expectation("a reconnected") { ($0.connections[2] ?? 0) == 2 }], timeout: 10)
        let got = b2.handler.expectation("b2 got them") { $0.received.count == 500 }
        a.transport.send((0..<500).map { testMessage(from: 1, to: 2, index: $0) })
        await fulfillment(of: [got], timeout: 10)
        XCTAssertEqual(b2.handler.state.received, (0..<500).map { testMessage(from: 1, to: 2, index: $0) })
    }

    func testUnixSocketListener() async throws {
        let a = member(1), b = member(2)
        let path = "\(scratch!)/b.sock"
        let port = try await b.transport.listen(url: "unix://\(path)")
        XCTAssertEqual(port, 0)
        await fulfillment(of: [a.handler.expectation("live") { $0.connected.contains(2) }].map { e in
            a.transport.addPeer(id: 2, urls: ["unix://\(path)"])
            return e
        }, timeout: 10)
        let got = b.handler.expectation("b got them") { $0.received.count == 1000 }
        a.transport.send((0..<1000).map { testMessage(from: 1, to: 2, index: $0) })
        await fulfillment(of: [got], timeout: 10)
        XCTAssertEqual(b.handler.state.received, (0..<1000).map { testMessage(from: 1, to: 2, index: $0) })
    }

    func testSeveralURLsAreTriedInTurn() async throws {
        let a = member(1), b = member(2)
        try await b.listen()
        let dead = try await freePort()
        a.transport.addPeer(id: 2, urls: ["http://127.0.0.1:\(dead)", "http://nonexistent.invalid:1", b.url])
        await fulfillment(of: [a.handler.expectation("live") { $0.connected.contains(2) }], timeout: 10)
        let got = b.handler.expectation("b got it") { $0.received.count == 1 }
        a.transport.send([testMessage(from: 1, to: 2, index: 7)])
        await fulfillment(of: [got], timeout: 10)
    }

    func testUnresolvableHostIsJustAFailedDial() async throws {
        let a = member(1)
        a.transport.addPeer(id: 2, urls: ["http://keel-2.keel.default.svc.cluster.invalid:2380"])
        let failed = a.handler.expectation("dials fail and are retried") { ($0.unreachable[2] ?? 0) >= 2 }
        await fulfillment(of: [failed], timeout: 20)
        XCTAssertFalse(a.transport.isConnected(2))
    }

    func testSendToAHungPeerReturnsAtOnceAndDoesNotDelayOthers() async throws {
        let a = member(1) { $0.maxQueuedMessagesPerPeer = 10_000 }
        let b = member(2)
        try await a.listen()
        try await b.listen()
        let hung = try await blackHole()
        let refused = try await freePort()
        a.transport.addPeer(id: 3, urls: ["http://127.0.0.1:\(hung)"])
        a.transport.addPeer(id: 4, urls: ["http://127.0.0.1:\(refused)"])
        await connectAll([a, b])

        let overflow = logs.expectation("peer queue full")
        let hungReported = a.handler.expectation("hung peer reported") { ($0.unreachable[3] ?? 0) >= 1 }
        let bGotAll = b.handler.expectation("b got all") { $0.received.count == 5000 }
        let batches = stride(from: 0, to: 5000, by: 50).map { start in
            (start..<start + 50).flatMap { i in
                [testMessage(from: 1, to: 3, index: i), testMessage(from: 1, to: 3, index: i + 5000),
                 testMessage(from: 1, to: 3, index: i + 10000),
                 testMessage(from: 1, to: 2, index: i), testMessage(from: 1, to: 4, index: i)]
            }
        }
        let started = ContinuousClock.now
        for batch in batches { a.transport.send(batch) }
        let sendTime = ContinuousClock.now - started
        await fulfillment(of: [bGotAll, overflow, hungReported], timeout: 10)
        XCTAssertLessThan(sendTime, .seconds(2), "send() must not wait for peers")
        XCTAssertEqual(b.handler.state.received, (0..<5000).map { testMessage(from: 1, to: 2, index: $0) })
        XCTAssertFalse(a.transport.isConnected(3))
        XCTAssertFalse(a.transport.isConnected(4))
        print("send() of 25000 messages to 3 peers (2 unreachable): \(sendTime)")
    }

    func testRemovedPeerIsClosedAndMessagesToUnknownPeersAreDropped() async throws {
        let a = member(1), b = member(2)
        try await a.listen()
        try await b.listen()
        await connectAll([a, b])
        let gone = a.handler.expectation("b's stream ended") { !$0.connected.contains(2) }
        a.transport.removePeer(id: 2)
        XCTAssertFalse(a.transport.isConnected(2))
        a.transport.send([testMessage(from: 1, to: 2, index: 0), testMessage(from: 1, to: 99, index: 1)])
        // b can still talk to a: the other direction is its own stream.
        let got = a.handler.expectation("a got b's") { $0.received.count == 1 }
        b.transport.send([testMessage(from: 2, to: 1, index: 5)])
        await fulfillment(of: [got, gone], timeout: 10)
        XCTAssertEqual(b.handler.state.received.count, 0)
        XCTAssertEqual(a.handler.state.unreachable[2] ?? 0, 0, "a removed peer is not unreachable")
    }
}

final class PeerSecurityTests: PeerTransportTestCase {
    private func rawCall(_ b: Member, path: String = "/keel.raft.Peer/Stream",
                         headers: [(String, String)]) async throws -> (GRPCClientConnection, ClientCall) {
        let client = try await GRPCClientConnection.connect(host: "127.0.0.1", port: b.port, group: group)
        let call = try await client.makeCall(path, metadata: headers).get()
        return (client, call)
    }

    func testStreamFromAnotherClusterIsRefused() async throws {
        let b = member(2, cluster: 0xB0B)
        try await b.listen()
        let (client, call) = try await rawCall(b, headers: [
            ("x-keel-cluster-id", "c1"), ("x-keel-from", "1"), ("x-keel-to", "2"),
        ])
        call.send(ByteBuffer(bytes: testMessage(from: 1, to: 2, index: 0).encoded()))
        call.closeSend()
        let response = try await call.response.get()
        XCTAssertEqual(response.status.code, .failedPrecondition)
        XCTAssertTrue(response.status.message.contains("cluster ID mismatch"), response.status.message)
        XCTAssertEqual(b.handler.state.received.count, 0)
        XCTAssertTrue(logs.contains(.error, "another cluster"))
        await client.close()

        // Two transports of different clusters never connect; the sender sees the peer as unreachable.
        let a = member(1, cluster: 0xC1)
        let refused = a.handler.expectation("a refused") { ($0.unreachable[2] ?? 0) >= 1 }
        a.transport.addPeer(id: 2, urls: [b.url])
        a.transport.send([testMessage(from: 1, to: 2, index: 0)])
        await fulfillment(of: [refused], timeout: 10)
        XCTAssertFalse(a.transport.isConnected(2))
        XCTAssertEqual(b.handler.state.received.count, 0)
        XCTAssertTrue(logs.contains(.error, "peer refused the stream"))
    }

    func testStreamForAnotherMemberIsRefusedAndMisaddressedMessagesAreDropped() async throws {
        let b = member(2)
        try await b.listen()
        let (client, call) = try await rawCall(b, headers: [("x-keel-cluster-id", "c1"), ("x-keel-from", "1"), ("x-keel-to", "3")])
        call.closeSend()
        let refused = try await call.response.get()
        XCTAssertEqual(refused.status.code, .failedPrecondition)
        XCTAssertTrue(refused.status.message.contains("member ID mismatch"), refused.status.message)

        let call2 = try await client.makeCall("/keel.raft.Peer/Stream", metadata: [
            ("x-keel-cluster-id", "c1"), ("x-keel-from", "1"), ("x-keel-to", "2")]).get()
        call2.send(ByteBuffer(bytes: testMessage(from: 1, to: 5, index: 0).encoded()))   // not for b
        call2.send(ByteBuffer(bytes: Message(type: .hup, to: 2, from: 1).encoded()))     // local-only type
        call2.send(ByteBuffer(bytes: testMessage(from: 1, to: 2, index: 1).encoded()))   // fine
        call2.closeSend()
        let ok = try await call2.response.get()
        XCTAssertEqual(ok.status.code, .ok)
        XCTAssertEqual(b.handler.state.received, [testMessage(from: 1, to: 2, index: 1)])
        // The hello, then cumulative acknowledgments.
        XCTAssertEqual(ok.messages.first.flatMap { PeerWire.ack($0) }, 0)
        await client.close()
    }

    func testMalformedMessageClosesTheStreamAndIsLogged() async throws {
        let a = member(1), b = member(2)
        try await a.listen()
        try await b.listen()
        let (client, call) = try await rawCall(b, headers: [("x-keel-cluster-id", "c1"), ("x-keel-from", "1"), ("x-keel-to", "2")])
        call.send(ByteBuffer(bytes: testMessage(from: 1, to: 2, index: 0).encoded()))
        call.send(ByteBuffer(bytes: [1, 0xEE, 0xFF, 0xFF, 0xFF]))  // version 1, then an invalid message type
        call.send(ByteBuffer(bytes: testMessage(from: 1, to: 2, index: 1).encoded()))
        call.closeSend()
        let response = try await call.response.get()
        XCTAssertEqual(response.status.code, .invalidArgument)
        XCTAssertTrue(logs.contains(.error, "malformed message from peer"))
        XCTAssertEqual(b.handler.state.received, [testMessage(from: 1, to: 2, index: 0)])
        // A truncated varint and an oversized length prefix: refused, and the server lives on.
        let call2 = try await client.makeCall("/keel.raft.Peer/Stream", metadata: [
            ("x-keel-cluster-id", "c1"), ("x-keel-from", "1"), ("x-keel-to", "2")]).get()
        call2.send(ByteBuffer(bytes: [1, 8, 0xFF]))
        call2.closeSend()
        let response2 = try await call2.response.get()
        XCTAssertEqual(response2.status.code, .invalidArgument)
        await client.close()

        await connectAll([a, b])
        let got = b.handler.expectation("b still works") { $0.received.count == 2 }
        a.transport.send([testMessage(from: 1, to: 2, index: 9)])
        await fulfillment(of: [got], timeout: 10)
    }
}

final class SnapshotTransferTests: PeerTransportTestCase {
    private func snapshotMessage(from: UInt64, to: UInt64, index: UInt64 = 1234) -> Message {
        Message(type: .snapshot, to: to, from: from, term: 7,
                snapshot: Snapshot(metadata: SnapshotMetadata(index: index, term: 6, confState: ConfState(voters: [1, 2, 3])),
                                   data: [9, 9, 9]))
    }

    func testSnapshotOfSeveralMiBArrivesByteIdentical() async throws {
        let small: (inout PeerTransportConfig) -> Void = {
            $0.snapshotChunkBytes = 256 << 10
            $0.snapshotWindowBytes = 512 << 10
            $0.snapshotSyncEveryBytes = 2 << 20
        }
        let a = member(1, configure: small), b = member(2, configure: small)
        try await a.listen()
        try await b.listen()
        await connectAll([a, b])
        let image = randomBytes(6 << 20 + 12345)
        a.handler.image.withLockedValue { $0 = image }

        let reported = a.handler.expectation("reportSnapshot") { !$0.snapshotReports.isEmpty }
        let arrived = b.handler.expectation("receiveSnapshot") { !$0.snapshots.isEmpty }
        let message = snapshotMessage(from: 1, to: 2)
        let started = ContinuousClock.now
        // Ordinary messages keep flowing around it.
        a.transport.send([testMessage(from: 1, to: 2, index: 0), message, testMessage(from: 1, to: 2, index: 1)])
        await fulfillment(of: [arrived, reported], timeout: 30)
        print("snapshot of \(image.count) bytes: \(ContinuousClock.now - started)")
        let state = b.handler.state
        XCTAssertEqual(state.snapshots.count, 1)
        XCTAssertEqual(state.snapshots[0].message, message)
        XCTAssertTrue(state.snapshots[0].bytes == image, "image differs")
        XCTAssertTrue(state.snapshots[0].path.hasPrefix(b.directory + "/snap/"))
        XCTAssertEqual(a.handler.state.snapshotReports.map(\.peer), [2])
        XCTAssertEqual(a.handler.state.snapshotReports.first?.status, .finish)
        XCTAssertEqual(Set(b.handler.state.received.map(\.index)), [0, 1])
        XCTAssertFalse(b.handler.state.received.contains { $0.type == .snapshot })

        // The sender deletes the image it streamed; the receiver leaves no temp file behind.
        await a.transport.shutdown()
        for path in a.handler.state.imagesMade { XCTAssertFalse(FileManager.default.fileExists(atPath: path), path) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: b.directory + "/snap"), [])
    }

    func testEmptyImage() async throws {
        let a = member(1), b = member(2)
        try await b.listen()
        a.transport.addPeer(id: 2, urls: [b.url])
        a.handler.image.withLockedValue { $0 = [] }
        let reported = a.handler.expectation("reportSnapshot") { !$0.snapshotReports.isEmpty }
        a.transport.send([snapshotMessage(from: 1, to: 2)])
        await fulfillment(of: [reported], timeout: 10)
        XCTAssertEqual(a.handler.state.snapshotReports.first?.status, .finish)
        XCTAssertEqual(b.handler.state.snapshots.first?.bytes, [])
    }

    func testReceiverThatCannotStoreTheImageGivesFailure() async throws {
        let a = member(1)
        let b = member(2)
        try await b.listen()
        // c's snapshot directory does not exist.
        let c = member(3, directory: "\(scratch!)/c")
        try FileManager.default.removeItem(atPath: "\(scratch!)/c/snap")
        try await c.listen()
        a.transport.addPeer(id: 3, urls: [c.url])
        a.handler.image.withLockedValue { $0 = randomBytes(300_000) }
        let failed = a.handler.expectation("failure") { $0.snapshotReports.count == 1 }
        a.transport.send([snapshotMessage(from: 1, to: 3)])
        await fulfillment(of: [failed], timeout: 10)
        XCTAssertEqual(a.handler.state.snapshotReports.first?.status, .failure)
        XCTAssertEqual(c.handler.state.snapshots.count, 0)
        XCTAssertTrue(logs.contains(.error, "snapshot reception failed"))

        // A receiver whose limit is below the image's size refuses it up front.
        let d = member(4) { $0.maxSnapshotBytes = 100_000 }
        try await d.listen()
        a.transport.addPeer(id: 4, urls: [d.url])
        let refused = a.handler.expectation("refused") { $0.snapshotReports.count == 2 }
        a.transport.send([snapshotMessage(from: 1, to: 4)])
        await fulfillment(of: [refused], timeout: 10)
        XCTAssertEqual(a.handler.state.snapshotReports.last?.status, .failure)
        XCTAssertTrue(logs.contains(.error, "larger than maxSnapshotBytes"))

        // The leader failing to make an image, and an unreachable peer, are failures too.
        a.handler.image.withLockedValue { $0 = nil }
        a.transport.addPeer(id: 2, urls: [b.url])
        let noImage = a.handler.expectation("no image") { $0.snapshotReports.count == 3 }
        a.transport.send([snapshotMessage(from: 1, to: 2)])
        await fulfillment(of: [noImage], timeout: 10)
        a.handler.image.withLockedValue { $0 = [1, 2, 3] }
        let deadPort = try await freePort()
        a.transport.addPeer(id: 5, urls: ["http://127.0.0.1:\(deadPort)"])
        let unreachable = a.handler.expectation("unreachable") { $0.snapshotReports.count == 4 }
        a.transport.send([snapshotMessage(from: 1, to: 5)])
        await fulfillment(of: [unreachable], timeout: 10)
        XCTAssertEqual(a.handler.state.snapshotReports.map(\.status), [.failure, .failure, .failure, .failure])
        XCTAssertEqual(a.handler.state.snapshotReports.map(\.peer), [3, 4, 2, 5])
        XCTAssertEqual(b.handler.state.snapshots.count, 0)
    }

    func testReceiverRestartMidSnapshotGivesFailureAndLeavesNoTempFile() async throws {
        let a = member(1) {
            $0.snapshotChunkBytes = 64 << 10
            $0.snapshotWindowBytes = 64 << 10
        }
        let b = member(2)
        try await b.listen()
        a.transport.addPeer(id: 2, urls: [b.url])
        a.handler.image.withLockedValue { $0 = [UInt8](repeating: 7, count: 32 << 20) }
        let failed = a.handler.expectation("failure") { !$0.snapshotReports.isEmpty }
        let receiving = logs.expectation("receiving a snapshot")
        a.transport.send([snapshotMessage(from: 1, to: 2)])
        // Stop b as soon as its temp file exists.
        await fulfillment(of: [receiving], timeout: 10)
        let snapDir = b.directory + "/snap"
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: snapDir).count, 1)
        await b.transport.shutdown()
        await fulfillment(of: [failed], timeout: 20)
        XCTAssertEqual(a.handler.state.snapshotReports.first?.status, .failure)
        XCTAssertEqual(b.handler.state.snapshots.count, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: snapDir), [])
    }
}

final class PeerURLTests: XCTestCase {
    func testParsing() throws {
        XCTAssertEqual(try PeerURL(parsing: "http://10.0.0.1:2380"), .tcp(host: "10.0.0.1", port: 2380))
        XCTAssertEqual(try PeerURL(parsing: "http://keel-0.keel:2380/"), .tcp(host: "keel-0.keel", port: 2380))
        XCTAssertEqual(try PeerURL(parsing: "http://[::1]:2380"), .tcp(host: "::1", port: 2380))
        XCTAssertEqual(try PeerURL(parsing: "unix:///tmp/keel.sock"), .unix(path: "/tmp/keel.sock"))
        XCTAssertEqual(try PeerURL(parsing: "unix://localhost:12345"), .unix(path: "localhost:12345"))
        XCTAssertEqual(try PeerURL(parsing: "https://10.0.0.1:2380"), .tcp(host: "10.0.0.1", port: 2380, secure: true))
        XCTAssertEqual(PeerURL.tcp(host: "a", port: 1, secure: true).description, "https://a:1")
        for bad in ["unixs://x", "https://a", "ftp://a:1", "http://a", "http://:1", "http://a:99999", "http://a:1/x", "unix://", "a:1"] {
            XCTAssertThrowsError(try PeerURL(parsing: bad), bad)
        }
        XCTAssertEqual(PeerURL.tcp(host: "::1", port: 1).description, "http://[::1]:1")
    }
}
