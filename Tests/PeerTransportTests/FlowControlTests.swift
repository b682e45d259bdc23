import NIOConcurrencyHelpers
import NIOCore
import RPC
import Raft
import Transport
import XCTest
@testable import PeerTransport

/// A peer that accepts our calls, says hello, counts what it receives and never acknowledges anything.
final class SilentPeer: @unchecked Sendable {
    let received = NIOLockedValueBox<Int>(0)
    private var server: TransportServer!
    var port = 0

    func start(group: EventLoopGroup) async throws {
        var grpc = GRPCServer()
        let counter = Counter(received: received)
        grpc.register(PeerWire.streamPath, .streaming { call in
            call.setObserver(counter)
            PeerWire.sendAck(0, on: call)
        })
        grpc.register(PeerWire.snapshotPath, .streaming { call in call.setObserver(counter) })
        server = TransportServer(group: group, configuration: TransportConfiguration(grpc: grpc, http: NotFoundResponder()))
        port = try await server.bind(host: "127.0.0.1", port: 0)
    }

    func stop() async {
        await server?.shutdownGracefully(gracePeriod: .milliseconds(100))
    }

    final class Counter: GRPCRequestObserver, @unchecked Sendable {
        let received: NIOLockedValueBox<Int>
        init(received: NIOLockedValueBox<Int>) { self.received = received }
        func call(_ call: ServerCall, received message: ByteBuffer) {
            received.withLockedValue { $0 += 5 + message.readableBytes }
        }
        func callReceivedEnd(_ call: ServerCall) {}
        func callCancelled(_ call: ServerCall) {}
    }
}

final class FlowControlTests: PeerTransportTestCase {
    func testStreamStopsAtTheWindowAndResetsAPeerThatStopsAcknowledging() async throws {
        let silent = SilentPeer()
        try await silent.start(group: group)
        let a = member(1) {
            $0.maxInFlightBytesPerPeer = 64 << 10
            $0.maxQueuedMessagesPerPeer = 1000
            $0.stallTimeout = .milliseconds(500)
        }
        a.transport.addPeer(id: 2, urls: ["http://127.0.0.1:\(silent.port)"])
        await fulfillment(of: [a.handler.expectation("live") { $0.connected.contains(2) }], timeout: 10)

        let dropped = a.handler.expectation("queue overflow reported") { ($0.unreachable[2] ?? 0) >= 1 }
        let stalled = a.handler.expectation("stalled stream reset") { ($0.disconnections[2] ?? 0) >= 1 }
        // ~2 MB of messages against a 64 KiB window and a 1000-message queue.
        a.transport.send((0..<2000).map { testMessage(from: 1, to: 2, index: $0) })
        await fulfillment(of: [dropped, stalled], timeout: 10)
        let received = silent.received.withLockedValue { $0 }
        XCTAssertGreaterThan(received, 32 << 10)
        XCTAssertLessThanOrEqual(received, (64 << 10) + 4096, "no more than the window (plus one message) in flight")
        XCTAssertTrue(logs.contains(.warning, "stopped acknowledging"))
        // The stalled connection was closed and a new one dialed.
        await fulfillment(of: [a.handler.expectation("redialed") { ($0.connections[2] ?? 0) >= 2 }], timeout: 10)
        await a.transport.shutdown()
        await silent.stop()
    }

    func testSnapshotStopsAtTheWindowAndFailsWhenTheReceiverStalls() async throws {
        let silent = SilentPeer()
        try await silent.start(group: group)
        let a = member(1) {
            $0.snapshotChunkBytes = 64 << 10
            $0.snapshotWindowBytes = 256 << 10
            $0.stallTimeout = .milliseconds(500)
        }
        a.transport.addPeer(id: 2, urls: ["http://127.0.0.1:\(silent.port)"])
        a.handler.image.withLockedValue { $0 = [UInt8](repeating: 1, count: 4 << 20) }
        let failed = a.handler.expectation("failure") { !$0.snapshotReports.isEmpty }
        a.transport.send([Message(type: .snapshot, to: 2, from: 1, term: 1,
                                  snapshot: Snapshot(metadata: SnapshotMetadata(index: 5, term: 1)))])
        await fulfillment(of: [failed], timeout: 10)
        XCTAssertEqual(a.handler.state.snapshotReports.first?.status, .failure)
        let received = silent.received.withLockedValue { $0 }
        XCTAssertGreaterThanOrEqual(received, 256 << 10)
        XCTAssertLessThanOrEqual(received, (256 << 10) + (64 << 10) + 4096, "window + one chunk + the message")
        await a.transport.shutdown()
        for path in a.handler.state.imagesMade { XCTAssertFalse(FileManager.default.fileExists(atPath: path)) }
        await silent.stop()
    }
}
