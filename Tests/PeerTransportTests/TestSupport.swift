import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import XCTest
@testable import PeerTransport

/// Records everything the transport tells the Raft side; tests wait on predicates over it.
final class RecordingHandler: PeerMessageHandler, @unchecked Sendable {
    struct State {
        var received: [Message] = []
        var snapshots: [(message: Message, path: String, bytes: [UInt8])] = []
        var unreachable: [UInt64: Int] = [:]
        var snapshotReports: [(peer: UInt64, status: SnapshotStatus)] = []
        var connections: [UInt64: Int] = [:]
        var disconnections: [UInt64: Int] = [:]
        var connected: Set<UInt64> = []
        var imagesMade: [String] = []
    }

    private let box = NIOLockedValueBox((state: State(), waiters: [(predicate: (State) -> Bool, expectation: XCTestExpectation)]()))
    /// What `makeSnapshotImage` writes (nil: it throws).
    let image = NIOLockedValueBox<[UInt8]?>(nil)
    let imageDirectory: String

    init(imageDirectory: String) {
        self.imageDirectory = imageDirectory
    }

    var state: State { box.withLockedValue { $0.state } }

    /// An expectation fulfilled as soon as `predicate` holds (at once if it already does).
    func expectation(_ description: String, _ predicate: @escaping (State) -> Bool) -> XCTestExpectation {
        let expectation = XCTestExpectation(description: description)
        let holds = box.withLockedValue { box -> Bool in
            if predicate(box.state) { return true }
            box.waiters.append((predicate, expectation))
            return false
        }
        if holds { expectation.fulfill() }
        return expectation
    }

    private func update(_ body: (inout State) -> Void) {
        let ready = box.withLockedValue { box -> [XCTestExpectation] in
            body(&box.state)
            var ready: [XCTestExpectation] = []
            box.waiters.removeAll { waiter in
                guard waiter.predicate(box.state) else { return false }
                ready.append(waiter.expectation)
                return true
            }
            return ready
        }
        for expectation in ready { expectation.fulfill() }
    }

    func receive(_ message: Message) {
        update { $0.received.append(message) }
    }

    func receiveSnapshot(_ message: Message, imagePath: String) {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: imagePath))).map { [UInt8]($0) } ?? []
        try? FileManager.default.removeItem(atPath: imagePath)  // the handler owns the file
        update { $0.snapshots.append((message, imagePath, bytes)) }
    }

    func reportUnreachable(_ peer: UInt64) {
        update { $0.unreachable[peer, default: 0] += 1 }
    }

    func reportSnapshot(_ peer: UInt64, status: SnapshotStatus) {
        update { $0.snapshotReports.append((peer, status)) }
    }

    func makeSnapshotImage(for message: Message) throws -> String {
        guard let bytes = image.withLockedValue({ $0 }) else { throw TestError("no image today") }
        let path = "\(imageDirectory)/image-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        update { $0.imagesMade.append(path) }
        return path
    }

    func peerConnectionChanged(_ peer: UInt64, connected: Bool) {
        update {
            if connected {
                $0.connections[peer, default: 0] += 1
                $0.connected.insert(peer)
            } else {
                $0.disconnections[peer, default: 0] += 1
                $0.connected.remove(peer)
            }
        }
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Keeps log records so tests can check that refusals and bad input are logged.
final class LogRecorder: @unchecked Sendable {
    let records = NIOLockedValueBox<[(level: Logger.Level, message: String)]>([])
    private let waiters = NIOLockedValueBox<[(text: String, expectation: XCTestExpectation)]>([])

    /// Fulfilled once a record containing `text` is logged.
    func expectation(_ text: String) -> XCTestExpectation {
        let expectation = XCTestExpectation(description: "log: \(text)")
        waiters.withLockedValue { $0.append((text, expectation)) }
        if records.withLockedValue({ $0.contains { $0.message.contains(text) } }) { fulfill(text) }
        return expectation
    }

    func record(_ level: Logger.Level, _ message: String) {
        records.withLockedValue { $0.append((level, message)) }
        fulfill(message)
    }

    private func fulfill(_ message: String) {
        let ready = waiters.withLockedValue { waiters -> [XCTestExpectation] in
            var ready: [XCTestExpectation] = []
            waiters.removeAll { waiter in
                guard message.contains(waiter.text) || waiter.text == message else { return false }
                ready.append(waiter.expectation)
                return true
            }
            return ready
        }
        for expectation in ready { expectation.fulfill() }
    }

    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { _ in RecordingLogHandler(recorder: self) }
        logger.logLevel = .debug
        return logger
    }

    func contains(_ level: Logger.Level, _ text: String) -> Bool {
        records.withLockedValue { $0.contains { $0.level == level && $0.message.contains(text) } }
    }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.record(event.level, event.message.description)
        if ProcessInfo.processInfo.environment["PEER_TEST_LOGS"] != nil {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            print("[\(event.level)] \(event.message) \(all)")
        }
    }
}

/// One member under test: a transport, its handler and directories.
final class Member: @unchecked Sendable {  // `port` is set before the member is shared
    let id: UInt64
    let transport: PeerTransport
    let handler: RecordingHandler
    let directory: String
    var port = 0

    init(id: UInt64, cluster: UInt64 = 0xC1, group: EventLoopGroup, logs: LogRecorder,
         directory: String, configure: (inout PeerTransportConfig) -> Void = { _ in }) {
        self.id = id
        self.directory = directory
        try? FileManager.default.createDirectory(atPath: directory + "/snap", withIntermediateDirectories: true)
        try? FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        handler = RecordingHandler(imageDirectory: directory + "/images")
        var config = PeerTransportConfig(localID: id, clusterID: cluster, snapshotDirectory: directory + "/snap")
        config.dialTimeout = .seconds(1)
        config.reconnectBackoffMin = .milliseconds(20)
        config.reconnectBackoffMax = .milliseconds(200)
        config.maxQueuedMessagesPerPeer = 100_000
        configure(&config)
        transport = PeerTransport(config: config, group: group, handler: handler, logger: logs.logger("member-\(id)"))
    }

    var url: String { "http://127.0.0.1:\(port)" }

    @discardableResult
    func listen(port: Int = 0) async throws -> Int {
        self.port = try await transport.listen(url: "http://127.0.0.1:\(port)")
        return self.port
    }
}

/// Base class: an event-loop group and a scratch directory per test, everything reaped in tearDown.
class PeerTransportTestCase: XCTestCase {
    var group: MultiThreadedEventLoopGroup!
    var scratch: String!
    var logs = LogRecorder()
    private var members: [Member] = []
    private var extraChannels: [Channel] = []

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        scratch = NSTemporaryDirectory() + "peer-transport-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        logs = LogRecorder()
    }

    override func tearDown() async throws {
        for member in members { await member.transport.shutdown() }
        members.removeAll()
        for channel in extraChannels { try? await channel.close() }
        extraChannels.removeAll()
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func member(_ id: UInt64, cluster: UInt64 = 0xC1, directory: String? = nil,
                configure: (inout PeerTransportConfig) -> Void = { _ in }) -> Member {
        let m = Member(id: id, cluster: cluster, group: group, logs: logs,
                       directory: directory ?? "\(scratch!)/m\(id)-\(members.count)", configure: configure)
        members.append(m)
        return m
    }

    /// A port nobody listens on right now (bound, then released).
    func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    /// A server that accepts connections and never reads from them (a peer that hangs).
    func blackHole() async throws -> Int {
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.1", port: 0).get()
        extraChannels.append(channel)
        return channel.localAddress!.port!
    }

    /// Connects `members` all to all and waits until every stream is live.
    func connectAll(_ all: [Member]) async {
        var waits: [XCTestExpectation] = []
        for a in all {
            for b in all where a !== b {
                waits.append(a.handler.expectation("\(a.id) -> \(b.id) live") { $0.connected.contains(b.id) })
                a.transport.addPeer(id: b.id, urls: [b.url])
            }
        }
        await fulfillment(of: waits, timeout: 10)
    }
}

/// A message with a recognisable payload: `index` numbers it, the entry data depends on it.
func testMessage(from: UInt64, to: UInt64, index: Int) -> Message {
    let size = (index * 37) % 2048
    var data = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
    if size >= 2 {
        data[0] = UInt8(truncatingIfNeeded: index >> 8)
        data[size - 1] = UInt8(truncatingIfNeeded: index &* 7)
    }
    return Message(type: .app, to: to, from: from, term: 3, logTerm: 2, index: UInt64(index),
                   entries: [Entry(term: 3, index: UInt64(index) + 1, data: data)], commit: UInt64(index),
                   context: index % 5 == 0 ? [1, 2, 3] : [])
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        var word = generator.next()
        for _ in 0..<8 where i < count {
            bytes[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return bytes
}
