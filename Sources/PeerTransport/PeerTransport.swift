import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RPC
import Raft
import Transport

/// What the peer transport delivers to, and asks of, the Raft side of the server.
public protocol PeerMessageHandler: AnyObject, Sendable {
    /// A message from a peer (called on an event-loop thread; must not block).
    func receive(_ message: Message)
    /// A snapshot message whose state-machine image has been fully received and fsynced into `imagePath`
    /// (a file the handler now owns: it moves or deletes it). Called on an event-loop thread.
    func receiveSnapshot(_ message: Message, imagePath: String)
    /// Sending to `peer` failed / the stream broke (feeds RawNode.reportUnreachable). Event-loop thread.
    func reportUnreachable(_ peer: UInt64)
    /// Outcome of sending a snapshot message to `peer` (feeds RawNode.reportSnapshot). Every snapshot message
    /// handed to `send` for a known peer gets exactly one report. Event-loop thread.
    func reportSnapshot(_ peer: UInt64, status: SnapshotStatus)
    /// Leader side: writes an image of the current state machine for an outgoing snapshot message to
    /// a new file and returns its path; the transport streams it and deletes it afterwards.
    /// Called on a thread-pool thread (it may block on disk I/O).
    func makeSnapshotImage(for message: Message) throws -> String
    /// The outbound stream to `peer` became live (`true`) or broke (`false`). Optional: for logs and metrics.
    func peerConnectionChanged(_ peer: UInt64, connected: Bool)
    /// The cluster id and member list, encoded by the server, for members joining an existing cluster
    /// (`PeerTransport.fetchClusterMembers`). nil: not available (the default).
    func clusterMembers() -> [UInt8]?
    /// Whether `peer` was removed from the cluster: its streams are refused, which tells it so.
    func isRemovedMember(_ peer: UInt64) -> Bool
    /// `peer` refused our stream because this member was removed from the cluster (etcd's HTTP 410 from
    /// rafthttp): the member must stop.
    func removedFromCluster(reportedBy peer: UInt64)
}

extension PeerMessageHandler {
    public func peerConnectionChanged(_ peer: UInt64, connected: Bool) {}
    public func clusterMembers() -> [UInt8]? { nil }
    public func isRemovedMember(_ peer: UInt64) -> Bool { false }
    public func removedFromCluster(reportedBy peer: UInt64) {}
}

public struct PeerTransportConfig: Sendable {
    public var localID: UInt64
    public var clusterID: UInt64
    /// Where incoming snapshot images are written (temp files, then handed to the handler).
    public var snapshotDirectory: String
    /// Messages waiting for one peer's stream; overflow drops the message and reports the peer unreachable.
    public var maxQueuedMessagesPerPeer: Int = 4096
    /// Request bytes written to a peer's stream but not yet acknowledged by it (flow control).
    public var maxInFlightBytesPerPeer: Int = 8 << 20
    /// Largest gRPC message accepted from a peer (one Raft message or one snapshot chunk), and sent to one.
    public var maxMessageBytes: Int = 64 << 20
    /// Size of the chunks a snapshot image is streamed in (must not exceed `maxMessageBytes`).
    public var snapshotChunkBytes: Int = 1 << 20
    /// Image bytes sent but not yet acknowledged as written by the receiver, per snapshot.
    public var snapshotWindowBytes: Int = 4 << 20
    /// Largest snapshot image accepted from a peer.
    public var maxSnapshotBytes: UInt64 = 64 << 30
    /// Snapshots received at the same time (each holds a temp file and up to a window of buffered chunks).
    public var maxConcurrentIncomingSnapshots: Int = 4
    /// The receiver fdatasyncs an incoming image every this many bytes, so the final fsync is short.
    public var snapshotSyncEveryBytes: Int = 64 << 20
    /// Bound on one dial: DNS resolution plus TCP connect, and the wait for the stream's first answer.
    public var dialTimeout: TimeAmount = .seconds(2)
    public var reconnectBackoffMin: TimeAmount = .milliseconds(100)
    public var reconnectBackoffMax: TimeAmount = .seconds(2)
    /// A stream or snapshot with unacknowledged bytes and no acknowledgment for this long is considered dead.
    public var stallTimeout: TimeAmount = .seconds(15)
    /// Connections peers may have open to our listeners (each member normally holds one, plus one per snapshot).
    public var maxInboundConnections: Int = 1024
    /// Threads for disk I/O (snapshot images).
    public var ioThreads: Int = 2
    /// TLS for `https://` peer listeners (nil: such a listener is refused).
    public var serverTLS: TLSServerSecurity?
    /// TLS for dialing `https://` peer URLs (nil: such a dial fails).
    public var clientTLS: TLSClientSecurity?

    public init(localID: UInt64, clusterID: UInt64, snapshotDirectory: String) {
        self.localID = localID
        self.clusterID = clusterID
        self.snapshotDirectory = snapshotDirectory
    }

    /// Checks the settings; `PeerTransport.init` traps on a configuration that fails this.
    public func validate() throws(PeerTransportError) {
        guard localID != 0 else { throw .invalidConfig("localID must not be 0") }
        guard maxQueuedMessagesPerPeer > 0, maxInFlightBytesPerPeer > 0, maxMessageBytes >= 64,
              snapshotChunkBytes > 0, snapshotWindowBytes > 0, maxConcurrentIncomingSnapshots > 0,
              snapshotSyncEveryBytes > 0, ioThreads > 0, maxInboundConnections > 0 else { throw .invalidConfig("limits must be positive") }
        guard snapshotChunkBytes <= maxMessageBytes else {
            throw .invalidConfig("snapshotChunkBytes (\(snapshotChunkBytes)) exceeds maxMessageBytes (\(maxMessageBytes))")
        }
        guard reconnectBackoffMin > .zero, reconnectBackoffMax >= reconnectBackoffMin, dialTimeout > .zero,
              stallTimeout > .zero else { throw .invalidConfig("timeouts must be positive, backoff min <= max") }
    }
}

/// What every part of the transport shares: settings, the handler, the disk-I/O pool.
final class PeerTransportContext: Sendable {
    let config: PeerTransportConfig
    let handler: PeerMessageHandler
    let logger: Logger
    let ioPool: NIOThreadPool
    /// Incoming snapshots in progress (bounded by `maxConcurrentIncomingSnapshots`).
    let incomingSnapshots = NIOLockedValueBox<Int>(0)
    /// Cleanups of incoming snapshots still running, awaited by shutdown.
    let pendingCleanups = NIOLockedValueBox<[UInt64: EventLoopFuture<Void>]>([:])
    let serial = NIOLockedValueBox<UInt64>(0)

    init(config: PeerTransportConfig, handler: PeerMessageHandler, logger: Logger, ioPool: NIOThreadPool) {
        self.config = config
        self.handler = handler
        self.logger = logger
        self.ioPool = ioPool
    }

    func nextSerial() -> UInt64 {
        serial.withLockedValue { $0 += 1; return $0 }
    }

    /// Runs blocking file work on the pool; if the pool is already stopped (shutdown), runs it right here.
    func runFileCleanup(on eventLoop: EventLoop, _ body: @escaping @Sendable () -> Void) -> EventLoopFuture<Void> {
        ioPool.runIfActive(eventLoop: eventLoop, body).flatMapErrorWithEventLoop { _, loop in
            body()
            return loop.makeSucceededVoidFuture()
        }
    }
}

/// Raft messages between members: one long-lived HTTP/2 stream per peer, snapshots streamed from disk in
/// chunks on calls of their own. See `PeerWire` for the wire format.
public final class PeerTransport: Sendable {
    private let context: PeerTransportContext
    private let group: EventLoopGroup
    private let serverConfiguration: TransportConfiguration
    private let peers = NIOLockedValueBox<[UInt64: PeerSender]>([:])
    private let listeners = NIOLockedValueBox<[Channel]>([])
    private let inbound = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])
    private let isShutDown = NIOLockedValueBox<Bool>(false)

    public init(config: PeerTransportConfig, group: EventLoopGroup, handler: PeerMessageHandler, logger: Logger) {
        do { try config.validate() } catch { preconditionFailure("\(error)") }
        let pool = NIOThreadPool(numberOfThreads: config.ioThreads)
        pool.start()
        let context = PeerTransportContext(config: config, handler: handler, logger: logger, ioPool: pool)
        self.context = context
        self.group = group
        var grpc = GRPCServer(limits: GRPCServerLimits(
            maxReceiveMessageBytes: max(config.maxMessageBytes, config.snapshotChunkBytes)))
        grpc.register(PeerWire.streamPath, .streaming { call in InboundStream.start(call, context: context) })
        grpc.register(PeerWire.snapshotPath, .streaming { call in InboundSnapshot.start(call, context: context) })
        grpc.register(MembersEndpoint.path, .unary { call, _ in MembersEndpoint.serve(call, handler: handler) })
        var server = TransportConfiguration(grpc: grpc, http: NotFoundResponder())
        server.maxHTTPBodyBytes = 64 << 10
        self.serverConfiguration = server
        SnapshotFiles.removeLeftovers(in: config.snapshotDirectory, logger: logger)
    }

    public var localID: UInt64 { context.config.localID }

    // MARK: Listening

    /// Opens a listener for a `--listen-peer-urls` entry: `http://host:port` (port 0 = ephemeral; returns the
    /// bound port) or `unix://path` (returns 0; an existing socket file at `path` is replaced).
    @discardableResult
    public func listen(url: String) async throws -> Int {
        guard !isShutDown.withLockedValue({ $0 }) else { throw PeerTransportError.shutDown }
        let parsed = try PeerURL(parsing: url)
        let configuration = serverConfiguration
        let inbound = self.inbound
        let maxInbound = context.config.maxInboundConnections
        let logger = context.logger
        let tls = parsed.isSecure ? context.config.serverTLS : nil
        if parsed.isSecure && tls == nil {
            throw PeerTransportError.invalidConfig("\(parsed) needs peer TLS (--peer-cert-file and --peer-key-file, or --peer-auto-tls)")
        }
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                let admitted = inbound.withLockedValue { open -> Bool in
                    guard open.count < maxInbound else { return false }
                    open[id] = channel
                    return true
                }
                guard admitted else {
                    logger.warning("too many inbound peer connections; refusing one", metadata: ["limit": "\(maxInbound)"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in _ = inbound.withLockedValue { $0.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    try HTTP2ServerSetup.install(on: channel, configuration: configuration, tls: tls)
                }
            }
        let channel: Channel
        switch parsed {
        case .tcp(let host, let port, _):
            bootstrap = bootstrap
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            for (option, value) in PeerSocketOptions.keepalive { bootstrap = bootstrap.childChannelOption(option, value: value) }
            channel = try await bootstrap.bind(host: host, port: port).get()
        case .unix(let path):
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        }
        let accepted = isShutDown.withLockedValue { shut -> Bool in
            if !shut { listeners.withLockedValue { $0.append(channel) } }
            return !shut
        }
        guard accepted else {
            try? await channel.close()
            throw PeerTransportError.shutDown
        }
        context.logger.info("listening for peers", metadata: ["url": "\(parsed)"])
        if case .tcp = parsed { return channel.localAddress?.port ?? 0 }
        return 0
    }

    // MARK: Peers

    /// Starts (and keeps) a stream to `id`, reached at `urls` (tried in turn). Adding a known peer updates it.
    public func addPeer(id: UInt64, urls: [String]) {
        guard id != context.config.localID else { return }
        let parsed = parseURLs(urls, peer: id)
        let (sender, isNew) = peers.withLockedValue { peers -> (PeerSender?, Bool) in
            if isShutDown.withLockedValue({ $0 }) { return (nil, false) }
            if let existing = peers[id] { return (existing, false) }
            let sender = PeerSender(id: id, urls: parsed, eventLoop: group.next(), context: context)
            peers[id] = sender
            return (sender, true)
        }
        guard let sender else { return }
        if isNew { sender.start() } else { sender.update(urls: parsed) }
    }

    /// New URLs for a member (takes effect at the next dial; a stream on a URL no longer listed is closed).
    public func updatePeer(id: UInt64, urls: [String]) {
        let parsed = parseURLs(urls, peer: id)
        peers.withLockedValue { $0[id] }?.update(urls: parsed)
    }

    /// Closes the peer's streams; queued messages are dropped, a snapshot in flight reports `.failure`.
    public func removePeer(id: UInt64) {
        _ = peers.withLockedValue { $0.removeValue(forKey: id) }?.stop()
    }

    private func parseURLs(_ urls: [String], peer: UInt64) -> [PeerURL] {
        urls.compactMap { text in
            do {
                return try PeerURL(parsing: text)
            } catch {
                context.logger.error("ignoring peer URL", metadata: ["peer": "\(PeerWire.hex(peer))", "error": "\(error)"])
                return nil
            }
        }
    }

    // MARK: Sending

    /// Queues messages for their peers. Never blocks: it takes a lock per peer to append to a bounded queue.
    /// Callable from any thread. Messages to unknown peers are dropped.
    public func send(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        let senders = peers.withLockedValue { $0 }
        guard !senders.isEmpty else { return }
        var start = 0
        while start < messages.count {
            let to = messages[start].to
            var end = start + 1
            while end < messages.count, messages[end].to == to { end += 1 }
            senders[to]?.enqueue(messages[start..<end])
            start = end
        }
    }

    /// Whether `peer` has a live outbound stream (its first acknowledgment arrived and it has not broken).
    public func isConnected(_ peer: UInt64) -> Bool {
        peers.withLockedValue { $0[peer] }?.isConnected ?? false
    }

    // MARK: Shutdown

    /// Closes every stream and listener, waits for snapshot files to be cleaned up, stops the I/O threads.
    public func shutdown() async {
        let first = isShutDown.withLockedValue { shut -> Bool in defer { shut = true }; return !shut }
        guard first else { return }
        let senders = peers.withLockedValue { p in defer { p.removeAll() }; return Array(p.values) }
        for sender in senders { try? await sender.stop().get() }
        let listening = listeners.withLockedValue { l in defer { l.removeAll() }; return l }
        for channel in listening { try? await channel.close() }
        for channel in inbound.withLockedValue({ Array($0.values) }) { try? await channel.close() }
        // Closing the connections cancelled incoming snapshots; their temp files are being removed.
        while true {
            let pending = context.pendingCleanups.withLockedValue { Array($0.values) }
            if pending.isEmpty { break }
            for future in pending { try? await future.get() }
        }
        try? await context.ioPool.shutdownGracefully()
    }
}

/// Peer listeners serve only gRPC; plain HTTP gets 404.
struct NotFoundResponder: HTTPResponder {
    func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        eventLoop.makeSucceededFuture(.json(404, #"{"error":"not found"}"#))
    }
}
