import Logging
import NIOConcurrencyHelpers
import NIOCore
import RPC
import Raft
import Transport

/// Everything this member sends to one peer: a bounded queue filled by `send` from any thread, and, on the
/// peer's event loop, the connection, the long-lived Stream call and its flow control, reconnects with
/// back-off, and the snapshot in flight.
///
/// Thread rules: `inbox` is shared (locked); every other stored property is touched only on `eventLoop`
/// (hence `@unchecked Sendable`).
final class PeerSender: @unchecked Sendable {
    let id: UInt64
    let eventLoop: EventLoop
    private let context: PeerTransportContext
    private var config: PeerTransportConfig { context.config }
    private let logger: Logger

    private struct Inbox {
        var queue = CircularBuffer<Message>(initialCapacity: 64)
        var dropped = 0
        var drainScheduled = false
        var connected = false
        var stopped = false
    }
    private let inbox = NIOLockedValueBox(Inbox())

    // Loop-confined.
    private var urls: [PeerURL]
    private var preferredURL = 0
    private enum State {
        case idle
        case dialing
        case backoff(Scheduled<Void>)
        case streaming(StreamLink)
        case stopped
    }
    private var state: State = .idle
    /// Bumped at every state change, so late callbacks of an abandoned attempt are recognised and ignored.
    private var epoch: UInt64 = 0
    private var backoff: TimeAmount
    private var failuresInARow = 0
    private var writer = RaftWriter(reservingCapacity: 64 << 10)
    private var snapshot: SnapshotSender?
    private var stopPromise: EventLoopPromise<Void>?

    /// The live Stream call and its flow-control counters. The connection carries only this call, so giving up
    /// on the stream closes the connection: a reset alone could sit unsent behind a peer that stopped reading.
    private final class StreamLink: @unchecked Sendable {  // loop-confined, like its owner
        let connection: PeerConnection
        let call: PeerCall
        var established = false
        /// Framed request bytes written / acknowledged by the peer (cumulative).
        var written: UInt64 = 0
        var acked: UInt64 = 0
        var lastProgress = NIODeadline.now()
        var helloTimer: Scheduled<Void>?
        var watchdog: RepeatedTask?

        init(connection: PeerConnection, call: PeerCall) {
            self.connection = connection
            self.call = call
        }
    }

    init(id: UInt64, urls: [PeerURL], eventLoop: EventLoop, context: PeerTransportContext) {
        self.id = id
        self.urls = urls
        self.eventLoop = eventLoop
        self.context = context
        self.backoff = context.config.reconnectBackoffMin
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(PeerWire.hex(id))"
        self.logger = logger
    }

    var isConnected: Bool { inbox.withLockedValue { $0.connected } }

    // MARK: Any thread

    func start() {
        eventLoop.execute { self.connect() }
    }

    func update(urls: [PeerURL]) {
        eventLoop.execute { self.updateOnLoop(urls: urls) }
    }

    func stop() -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { self.stopOnLoop(promise) }
        return promise.futureResult
    }

    /// Appends to the bounded queue; snapshot messages go to their own call. Never blocks on I/O.
    func enqueue(_ messages: ArraySlice<Message>) {
        var snapshots: [Message] = []
        let wake = inbox.withLockedValue { box -> Bool in
            guard !box.stopped else { return false }
            for message in messages {
                if message.type == .snapshot {
                    snapshots.append(message)
                } else if box.queue.count >= config.maxQueuedMessagesPerPeer {
                    box.dropped += 1
                } else {
                    box.queue.append(message)
                }
            }
            // Wake the loop only when it can act: write (stream live) or report drops.
            guard !box.drainScheduled, box.connected || box.dropped > 0 else { return false }
            box.drainScheduled = true
            return true
        }
        if wake { eventLoop.execute { self.drain() } }
        for message in snapshots { eventLoop.execute { self.startSnapshot(message) } }
    }

    // MARK: Sending on the stream (loop)

    private func drain() {
        let dropped = inbox.withLockedValue { box -> Int in
            box.drainScheduled = false
            defer { box.dropped = 0 }
            return box.dropped
        }
        if dropped > 0 {
            logger.debug("peer queue full, dropped messages", metadata: ["count": "\(dropped)"])
            context.handler.reportUnreachable(id)
        }
        if case .streaming(let link) = state, link.established { writeQueued(link) }
    }

    /// Moves queued messages into the stream while the peer's acknowledgment window allows, many per write.
    private func writeQueued(_ link: StreamLink) {
        let window = config.maxInFlightBytesPerPeer
        while link.call.isOpen {
            let budget = window - Int(link.written - link.acked)
            guard budget > 0 else { return }
            let batch = inbox.withLockedValue { box -> [Message] in
                var out: [Message] = []
                var estimate = 0
                while estimate < budget, out.count < 1024, let message = box.queue.popFirst() {
                    estimate += PeerWire.estimatedSize(message)
                    out.append(message)
                }
                return out
            }
            guard !batch.isEmpty else { return }
            writer.bytes.removeAll(keepingCapacity: true)
            for message in batch {
                let start = writer.bytes.count
                let framed = PeerWire.appendFramed(message, to: &writer)
                if framed - PeerWire.prefixBytes > config.maxMessageBytes {
                    writer.bytes.removeSubrange(start...)
                    logger.error("dropping a message larger than maxMessageBytes",
                                 metadata: ["type": "\(message.type)", "bytes": "\(framed)"])
                }
            }
            if writer.bytes.isEmpty { continue }
            if link.written == link.acked { link.lastProgress = .now() }
            link.written += UInt64(writer.bytes.count)
            link.call.write(bytes: writer.bytes)
            // Don't keep a huge buffer around after one large append.
            if writer.bytes.capacity > 4 << 20 { writer = RaftWriter(reservingCapacity: 64 << 10) }
        }
    }

    // MARK: Connection life cycle (loop)

    private func connect() {
        guard case .idle = state else { return }
        epoch &+= 1
        let attempt = epoch
        state = .dialing
        PeerConnection.dialAny(urls, startingAt: preferredURL, on: eventLoop, timeout: config.dialTimeout,
                               tls: config.clientTLS)
            .whenComplete { result in
                switch result {
                case .success(let (connection, index)):
                    guard self.epoch == attempt, case .dialing = self.state else { return connection.close() }
                    self.preferredURL = index
                    self.openStream(on: connection)
                case .failure(let error):
                    guard self.epoch == attempt, case .dialing = self.state else { return }
                    self.failed("dial failed", error: "\(error)", level: .info)
                }
            }
    }

    private func openStream(on connection: PeerConnection) {
        let headers = PeerWire.requestHeaders(path: PeerWire.streamPath, authority: connection.url.authority,
                                              clusterID: config.clusterID, from: config.localID, to: id)
        guard let call = connection.openCall(headers: headers, maxMessageBytes: PeerWire.ackBytes) else {
            connection.close()
            return failed("dial failed", error: "connection closed at once", level: .info)
        }
        let link = StreamLink(connection: connection, call: call)
        call.onMessage = { message in self.received(message, on: link) }
        call.onClose = { status in self.closed(link, status: status) }
        link.helloTimer = eventLoop.scheduleTask(in: config.dialTimeout) {
            guard !link.established else { return }
            link.connection.close()
        }
        epoch &+= 1
        state = .streaming(link)
    }

    private func received(_ message: ByteBuffer, on link: StreamLink) {
        guard case .streaming(let current) = state, current === link else { return }
        guard let ack = PeerWire.ack(message), ack >= link.acked, ack <= link.written else {
            logger.error("peer sent a malformed acknowledgment; resetting the stream")
            return link.connection.close()
        }
        if !link.established {
            link.established = true
            link.helloTimer?.cancel()
            link.helloTimer = nil
            backoff = config.reconnectBackoffMin
            failuresInARow = 0
            inbox.withLockedValue { $0.connected = true }
            let period = config.stallTimeout
            link.watchdog = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: .nanoseconds(period.nanoseconds / 2)) { _ in
                self.checkStall(link)
            }
            logger.info("peer stream established", metadata: ["url": "\(link.connection.url)"])
            context.handler.peerConnectionChanged(id, connected: true)
        } else if ack > link.acked {
            link.acked = ack
            link.lastProgress = .now()
        }
        writeQueued(link)
    }

    private func checkStall(_ link: StreamLink) {
        guard case .streaming(let current) = state, current === link, link.written > link.acked,
              NIODeadline.now() - link.lastProgress > config.stallTimeout else { return }
        logger.warning("peer stopped acknowledging; resetting the stream",
                       metadata: ["unacknowledgedBytes": "\(link.written - link.acked)"])
        link.connection.close()
    }

    private func closed(_ link: StreamLink, status: GRPCStatus) {
        guard case .streaming(let current) = state, current === link else { return }
        link.helloTimer?.cancel()
        link.watchdog?.cancel()
        link.connection.close()
        state = .idle
        let wasConnected = link.established
        inbox.withLockedValue { $0.connected = false }
        if status.code == .permissionDenied && status.message == PeerWire.removedMessage {
            context.handler.removedFromCluster(reportedBy: id)
        }
        if wasConnected {
            context.handler.peerConnectionChanged(id, connected: false)
            failed("peer stream broke", error: "\(status)", level: .warning)
        } else if status.isRefusal {
            backoff = config.reconnectBackoffMax  // a misconfiguration: retrying fast won't help
            failed("peer refused the stream", error: "\(status)", level: .error)
        } else {
            failed("peer stream did not come up", error: "\(status)", level: .info)
        }
    }

    /// A dial or stream failure: drop what is queued (Raft resends; nothing waits longer than one dial
    /// cycle), report the peer unreachable and retry after the back-off.
    private func failed(_ what: String, error: String, level: Logger.Level) {
        state = .idle
        failuresInARow += 1
        let dropped = inbox.withLockedValue { box -> Int in
            let n = box.queue.count
            box.queue.removeAll(keepingCapacity: false)
            return n
        }
        // Log the first failure of a streak at `level`, the rest (a peer that is down for a while) at debug.
        logger.log(level: failuresInARow == 1 ? level : .debug, "\(what)", metadata: ["error": "\(error)", "droppedMessages": "\(dropped)",
                                         "retryIn": "\(backoff.nanoseconds / 1_000_000)ms"])
        context.handler.reportUnreachable(id)
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        let delay = backoff
        backoff = min(backoff * 2, config.reconnectBackoffMax)
        // ±20% jitter so members that lost each other do not redial in lockstep.
        let jitter = Int64.random(in: -(delay.nanoseconds / 5)...(delay.nanoseconds / 5))
        epoch &+= 1
        let attempt = epoch
        let task = eventLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds + jitter)) {
            guard self.epoch == attempt, case .backoff = self.state else { return }
            self.state = .idle
            self.connect()
        }
        state = .backoff(task)
    }

    private func updateOnLoop(urls newURLs: [PeerURL]) {
        guard newURLs != urls else { return }
        urls = newURLs
        preferredURL = 0
        switch state {
        case .streaming(let link) where !newURLs.contains(link.connection.url):
            link.connection.close()
        case .backoff(let task):
            task.cancel()
            state = .idle
            connect()
        default:
            break
        }
    }

    private func stopOnLoop(_ promise: EventLoopPromise<Void>) {
        let queued = inbox.withLockedValue { box -> Int in
            box.stopped = true
            box.connected = false
            defer { box.queue.removeAll() }
            return box.queue.count
        }
        epoch &+= 1
        var closing: [EventLoopFuture<Void>] = []
        switch state {
        case .backoff(let task):
            task.cancel()
        case .streaming(let link):
            link.helloTimer?.cancel()
            link.watchdog?.cancel()
            link.call.onClose = nil
            link.connection.close()
            closing.append(link.connection.channel.closeFuture)
            if link.established { context.handler.peerConnectionChanged(id, connected: false) }
        default:
            break
        }
        state = .stopped
        if let snapshot {
            closing.append(snapshot.done)
            snapshot.abort("peer removed")
        }
        logger.debug("peer stopped", metadata: ["droppedMessages": "\(queued)"])
        EventLoopFuture.andAllComplete(closing, on: eventLoop).cascade(to: promise)
    }

    // MARK: Snapshots (loop)

    private func startSnapshot(_ message: Message) {
        if case .stopped = state { return context.handler.reportSnapshot(id, status: .failure) }
        guard snapshot == nil else {
            logger.warning("a snapshot to this peer is already in flight; failing the new one",
                           metadata: ["index": "\(message.snapshot?.metadata.index ?? 0)"])
            return context.handler.reportSnapshot(id, status: .failure)
        }
        let sender = SnapshotSender(peer: id, message: message, urls: urls, startingAt: preferredURL,
                                    eventLoop: eventLoop, context: context, logger: logger)
        snapshot = sender
        sender.done.whenComplete { _ in
            if self.snapshot === sender { self.snapshot = nil }
        }
        sender.start()
    }
}

extension GRPCStatus {
    /// The peer refused the call on purpose (wrong cluster, wrong member, bad headers): retrying soon won't help.
    var isRefusal: Bool {
        code == .failedPrecondition || code == .invalidArgument || code == .unimplemented || code == .permissionDenied
    }
}
