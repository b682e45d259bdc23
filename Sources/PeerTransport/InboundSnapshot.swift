import Logging
import NIOCore
import RPC
import Raft
import Transport

/// The receiving end of a `/keel.raft.Peer/Snapshot` call: the Raft message, then image chunks written in
/// order to a temp file on the I/O pool, each acknowledged once on disk; at the end of the request the file
/// is fsynced, renamed and handed to the handler, and the call answers OK.
///
/// Bounds: at most `maxConcurrentIncomingSnapshots` at once; the declared image size at most
/// `maxSnapshotBytes` and exactly what arrives; chunks waiting for the disk at most one window plus one
/// message (a sender that ignores acknowledgments is cut off); no chunk for `stallTimeout` ends the call.
///
/// Confined to the call's event loop (hence `@unchecked Sendable`).
final class InboundSnapshot: GRPCRequestObserver, @unchecked Sendable {
    private let context: PeerTransportContext
    private var config: PeerTransportConfig { context.config }
    private let call: ServerCall
    private let from: UInt64
    private let declaredSize: UInt64
    private let serial: UInt64
    private var logger: Logger
    private let eventLoop: EventLoop

    private enum Phase { case awaitingMessage, receiving, finishing, done }
    private var phase = Phase.awaitingMessage
    private var message: Message?
    private var paths: (part: String, final: String)?
    /// The file, once created; every disk operation is chained on it, so they run one after another.
    private var tail: EventLoopFuture<SnapshotFile>?
    private var received: UInt64 = 0
    private var written: UInt64 = 0
    private var queuedBytes = 0
    private var lastActivity = NIODeadline.now()
    private var watchdog: RepeatedTask?
    private let startedAt = NIODeadline.now()

    static func start(_ call: ServerCall, context: PeerTransportContext) {
        if let status = refusal(of: call, context: context, logger: context.logger) {
            return call.finish(status)
        }
        let from = PeerWire.parseHex(call.headers[PeerWire.fromHeader])!
        guard let size = call.headers[PeerWire.snapshotSizeHeader].flatMap({ UInt64($0) }) else {
            return call.finish(GRPCStatus(.invalidArgument, "missing or malformed \(PeerWire.snapshotSizeHeader)"))
        }
        guard size <= context.config.maxSnapshotBytes else {
            context.logger.error("refused a snapshot larger than maxSnapshotBytes",
                                 metadata: ["peer": "\(PeerWire.hex(from))", "bytes": "\(size)"])
            return call.finish(GRPCStatus(.resourceExhausted,
                                          "snapshot of \(size) bytes exceeds the limit of \(context.config.maxSnapshotBytes)"))
        }
        let admitted = context.incomingSnapshots.withLockedValue { count -> Bool in
            guard count < context.config.maxConcurrentIncomingSnapshots else { return false }
            count += 1
            return true
        }
        guard admitted else {
            return call.finish(GRPCStatus(.resourceExhausted, "too many snapshots being received"))
        }
        let session = InboundSnapshot(call: call, from: from, size: size, context: context)
        call.setObserver(session)
        session.armWatchdog()
    }

    private init(call: ServerCall, from: UInt64, size: UInt64, context: PeerTransportContext) {
        self.call = call
        self.from = from
        self.declaredSize = size
        self.context = context
        self.eventLoop = call.eventLoop
        self.serial = context.nextSerial()
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(PeerWire.hex(from))"
        self.logger = logger
    }

    private func armWatchdog() {
        let period = config.stallTimeout
        watchdog = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: .nanoseconds(period.nanoseconds / 2)) { _ in
            guard self.phase == .awaitingMessage || self.phase == .receiving,
                  NIODeadline.now() - self.lastActivity > period else { return }
            self.fail(GRPCStatus(.deadlineExceeded, "snapshot stalled: no data for \(period.nanoseconds / 1_000_000_000)s"))
        }
    }

    // MARK: GRPCRequestObserver

    func call(_ call: ServerCall, received bytes: ByteBuffer) {
        lastActivity = .now()
        switch phase {
        case .awaitingMessage:
            begin(bytes)
        case .receiving:
            chunk(bytes)
        case .finishing, .done:
            fail(GRPCStatus(.invalidArgument, "data after the end of the snapshot"))
        }
    }

    func callReceivedEnd(_ call: ServerCall) {
        guard phase == .receiving, let tail, let paths, let message else {
            if phase == .awaitingMessage { fail(GRPCStatus(.invalidArgument, "snapshot call without a message")) }
            return
        }
        guard received == declaredSize else {
            return fail(GRPCStatus(.dataLoss, "snapshot image truncated: \(received) of \(declaredSize) bytes"))
        }
        phase = .finishing
        let pool = context.ioPool
        let eventLoop = self.eventLoop
        let stored = tail.flatMap { file in
            pool.runIfActive(eventLoop: eventLoop) { () throws -> SnapshotFile in
                try file.sync()
                file.close()
                try SnapshotFiles.rename(paths.part, to: paths.final)
                try SnapshotFiles.syncDirectory(of: paths.final)
                return file
            }
        }
        self.tail = stored  // a cancellation's cleanup runs after this
        stored.whenComplete { result in
            switch result {
            case .success:
                guard self.phase == .finishing else {  // cancelled while syncing: the image is not delivered
                    return SnapshotFiles.remove(paths.final)
                }
                self.phase = .done
                self.release()
                let seconds = Double((NIODeadline.now() - self.startedAt).nanoseconds) / 1e9
                self.logger.info("snapshot received", metadata: ["bytes": "\(self.received)", "seconds": "\(seconds)"])
                self.context.handler.receiveSnapshot(message, imagePath: paths.final)
                self.call.finish(.ok)
            case .failure(let error):
                self.fail(GRPCStatus(.internal, "storing the snapshot failed: \(error)"))
            }
        }
    }

    func callCancelled(_ call: ServerCall) {
        guard phase != .done else { return }
        logger.warning("snapshot reception cancelled by the peer or the connection",
                       metadata: ["bytesReceived": "\(received)"])
        phase = .done
        cleanUp()
    }

    // MARK: Receiving

    private func begin(_ bytes: ByteBuffer) {
        let message: Message
        do {
            message = try Message.decode(Array(bytes.readableBytesView))
        } catch {
            logger.error("malformed snapshot message from peer", metadata: ["error": "\(error)"])
            return fail(GRPCStatus(.invalidArgument, "malformed raft message: \(error)"))
        }
        guard message.type == .snapshot, let snapshot = message.snapshot, message.to == config.localID,
              message.from == from else {
            return fail(GRPCStatus(.invalidArgument, "not a snapshot message for this member"))
        }
        self.message = message
        logger[metadataKey: "snapshotIndex"] = "\(snapshot.metadata.index)"
        let paths = SnapshotFiles.incomingPaths(directory: config.snapshotDirectory, from: from,
                                                index: snapshot.metadata.index, serial: serial)
        self.paths = paths
        phase = .receiving
        let created = context.ioPool.runIfActive(eventLoop: eventLoop) { try SnapshotFile.create(paths.part) }
        tail = created
        created.whenComplete { result in
            switch result {
            case .success:
                self.logger.info("receiving a snapshot", metadata: ["bytes": "\(self.declaredSize)", "file": "\(paths.part)"])
            case .failure(let error):
                self.fail(GRPCStatus(.internal, "cannot store the snapshot: \(error)"))
            }
        }
    }

    private func chunk(_ bytes: ByteBuffer) {
        guard let tail else { return }
        let count = bytes.readableBytes
        received += UInt64(count)
        queuedBytes += count
        guard received <= declaredSize else {
            return fail(GRPCStatus(.invalidArgument, "snapshot image larger than declared (\(declaredSize) bytes)"))
        }
        guard queuedBytes <= config.snapshotWindowBytes + config.maxMessageBytes else {
            return fail(GRPCStatus(.resourceExhausted, "snapshot sender ignores flow control"))
        }
        let pool = context.ioPool
        let eventLoop = self.eventLoop
        let syncEvery = UInt64(config.snapshotSyncEveryBytes)
        let before = received - UInt64(count)
        let after = received
        let next = tail.flatMap { file in
            pool.runIfActive(eventLoop: eventLoop) { () throws -> SnapshotFile in
                try file.write(bytes)
                // Sync as we go, so the final fsync has little left to do and dirty pages stay bounded.
                if before / syncEvery != after / syncEvery { try file.dataSync() }
                return file
            }
        }
        self.tail = next
        next.whenComplete { result in
            guard self.phase == .receiving || self.phase == .finishing else { return }
            switch result {
            case .success:
                self.queuedBytes -= count
                self.written += UInt64(count)
                self.lastActivity = .now()
                PeerWire.sendAck(self.written, on: self.call)
            case .failure(let error):
                self.fail(GRPCStatus(.internal, "writing the snapshot failed: \(error)"))
            }
        }
    }

    // MARK: Ending

    private func fail(_ status: GRPCStatus) {
        guard phase != .done else { return }
        phase = .done
        logger.error("snapshot reception failed", metadata: ["error": "\(status.message)", "bytesReceived": "\(received)"])
        call.finish(status)
        cleanUp()
    }

    /// Closes and deletes the temp file once the disk operations in flight are over; frees the slot.
    private func cleanUp() {
        release()
        guard let tail, let paths else { return }
        self.tail = nil
        let key = serial
        let context = self.context
        let cleaned = tail.map { Optional($0) }.recover { _ in nil }.flatMap { file in
            context.runFileCleanup(on: self.eventLoop) {
                file?.close()
                SnapshotFiles.remove(paths.part)
                SnapshotFiles.remove(paths.final)
            }
        }
        context.pendingCleanups.withLockedValue { $0[key] = cleaned }
        cleaned.whenComplete { _ in _ = context.pendingCleanups.withLockedValue { $0.removeValue(forKey: key) } }
    }

    private var released = false

    private func release() {
        watchdog?.cancel()
        watchdog = nil
        guard !released else { return }
        released = true
        context.incomingSnapshots.withLockedValue { $0 -= 1 }
    }
}
