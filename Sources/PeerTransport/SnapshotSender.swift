import Logging
import NIOCore
import RPC
import Raft
import Transport

/// Sends one snapshot message to a peer on a connection of its own: the handler writes the image to a file
/// (on the I/O pool), then the Raft message and the file's chunks go out on `/keel.raft.Peer/Snapshot`.
///
/// Flow control: chunks are read from disk one at a time, only while fewer than `snapshotWindowBytes` image
/// bytes are unacknowledged; the receiver acknowledges bytes once they are written to its disk. So the
/// sender holds at most one window plus one chunk in memory whatever the image size, and a slow receiver
/// disk slows the sender down instead of filling buffers.
///
/// Confined to the peer's event loop (hence `@unchecked Sendable`).
final class SnapshotSender: @unchecked Sendable {
    let peer: UInt64
    let message: Message
    let eventLoop: EventLoop
    private let urls: [PeerURL]
    private let startURL: Int
    private let context: PeerTransportContext
    private var config: PeerTransportConfig { context.config }
    private let logger: Logger
    private let donePromise: EventLoopPromise<Void>
    /// Completes once the outcome is reported and the image file is closed and deleted.
    var done: EventLoopFuture<Void> { donePromise.futureResult }

    private struct Image: Sendable {
        let path: String
        let file: SnapshotFile
        let size: UInt64
    }
    private var image: Image?
    private var finished = false
    private var connection: PeerConnection?
    private var call: PeerCall?
    /// Image bytes written to the call / acknowledged as written by the receiver.
    private var sent: UInt64 = 0
    private var acked: UInt64 = 0
    private var reading = false
    private var sendClosed = false
    private var lastProgress = NIODeadline.now()
    private var watchdog: RepeatedTask?
    /// The last pool operation (image creation, chunk read): cleanup waits for it.
    private var pendingIO: EventLoopFuture<Void>
    private let startedAt = NIODeadline.now()

    init(peer: UInt64, message: Message, urls: [PeerURL], startingAt startURL: Int, eventLoop: EventLoop,
         context: PeerTransportContext, logger: Logger) {
        self.peer = peer
        self.message = message
        self.urls = urls
        self.startURL = startURL
        self.eventLoop = eventLoop
        self.context = context
        var logger = logger
        logger[metadataKey: "snapshotIndex"] = "\(message.snapshot?.metadata.index ?? 0)"
        self.logger = logger
        self.donePromise = eventLoop.makePromise()
        self.pendingIO = eventLoop.makeSucceededVoidFuture()
    }

    func start() {
        let handler = context.handler
        let message = self.message
        let made = context.ioPool.runIfActive(eventLoop: eventLoop) { () throws -> Image in
            let path = try handler.makeSnapshotImage(for: message)
            do {
                let (file, size) = try SnapshotFile.openForReading(path)
                return Image(path: path, file: file, size: size)
            } catch {
                SnapshotFiles.remove(path)
                throw error
            }
        }
        // One callback does everything, so `image` is set before a cleanup chained on `pendingIO` looks at it.
        pendingIO = made.map { image in
            self.image = image
            if !self.finished { self.dial() }  // aborted meanwhile: finish's cleanup deletes the image
        }.recover { error in
            self.finish(.failure, "making the snapshot image failed: \(error)")
        }
    }

    func abort(_ reason: String) {
        finish(.failure, reason)
    }

    private func dial() {
        PeerConnection.dialAny(urls, startingAt: startURL, on: eventLoop, timeout: config.dialTimeout, tls: config.clientTLS)
            .whenComplete { result in
                switch result {
                case .success(let (connection, _)):
                    guard !self.finished else { return connection.close() }
                    self.connection = connection
                    self.open(on: connection)
                case .failure(let error):
                    self.finish(.failure, "dial failed: \(error)")
                }
            }
    }

    private func open(on connection: PeerConnection) {
        guard let image else { return }
        var writer = RaftWriter(reservingCapacity: 256)
        let framed = PeerWire.appendFramed(message, to: &writer)
        guard framed - PeerWire.prefixBytes <= config.maxMessageBytes else {
            return finish(.failure, "snapshot message larger than maxMessageBytes (\(framed) bytes)")
        }
        let headers = PeerWire.requestHeaders(
            path: PeerWire.snapshotPath, authority: connection.url.authority, clusterID: config.clusterID,
            from: config.localID, to: peer, extra: [(PeerWire.snapshotSizeHeader, String(image.size))])
        guard let call = connection.openCall(headers: headers, maxMessageBytes: PeerWire.ackBytes) else {
            return finish(.failure, "connection closed at once")
        }
        self.call = call
        call.onMessage = { message in self.received(message) }
        call.onClose = { status in self.closed(status) }
        call.write(bytes: writer.bytes)
        lastProgress = .now()
        let period = config.stallTimeout
        watchdog = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: .nanoseconds(period.nanoseconds / 2)) { _ in
            self.checkStall()
        }
        pump()
    }

    /// Reads and sends the next chunk if the window allows; half-closes after the last one.
    private func pump() {
        guard !finished, let call, call.isOpen, let image, !reading else { return }
        if sent == image.size {
            if !sendClosed {
                sendClosed = true
                call.closeSend()
            }
            return
        }
        guard sent - acked < UInt64(config.snapshotWindowBytes) else { return }
        reading = true
        let offset = sent
        let count = Int(min(UInt64(config.snapshotChunkBytes), image.size - sent))
        let file = image.file
        let read = context.ioPool.runIfActive(eventLoop: eventLoop) { try file.readFramed(at: offset, count: count) }
        pendingIO = read.map { chunk in
            self.reading = false
            guard !self.finished else { return }
            self.sent += UInt64(count)
            self.call?.write(chunk)
            self.pump()
        }.recover { error in
            self.reading = false
            self.finish(.failure, "reading the snapshot image failed: \(error)")
        }
    }

    private func received(_ message: ByteBuffer) {
        guard !finished else { return }
        guard let ack = PeerWire.ack(message), ack >= acked, ack <= sent else {
            call?.cancel()
            return finish(.failure, "peer sent a malformed acknowledgment")
        }
        if ack > acked {
            acked = ack
            lastProgress = .now()
        }
        pump()
    }

    private func closed(_ status: GRPCStatus) {
        guard !finished else { return }
        if status.code == .ok, sendClosed, let image, sent == image.size {
            finish(.finish, "")
        } else {
            finish(.failure, "peer ended the snapshot call: \(status)")
        }
    }

    private func checkStall() {
        guard !finished, NIODeadline.now() - lastProgress > config.stallTimeout else { return }
        call?.cancel()
        finish(.failure, "peer stopped acknowledging the snapshot")
    }

    private func finish(_ outcome: SnapshotStatus, _ reason: String) {
        guard !finished else { return }
        finished = true
        watchdog?.cancel()
        watchdog = nil
        if let call {
            call.onClose = nil
            call.onMessage = nil
            if call.isOpen { call.cancel() }
        }
        connection?.close()
        let elapsed = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
        if outcome == .finish {
            logger.info("snapshot sent", metadata: ["bytes": "\(sent)", "seconds": "\(elapsed)"])
        } else {
            logger.warning("snapshot send failed", metadata: ["error": "\(reason)", "bytesSent": "\(sent)"])
        }
        context.handler.reportSnapshot(peer, status: outcome)
        // Once no pool operation is running on the file: close it and delete the image.
        let context = self.context
        pendingIO.flatMap { () -> EventLoopFuture<Void> in
            guard let image = self.image else { return self.eventLoop.makeSucceededVoidFuture() }
            return context.runFileCleanup(on: self.eventLoop) {
                image.file.close()
                SnapshotFiles.remove(image.path)
            }
        }.cascade(to: donePromise)
    }
}
