import NIOCore

/// Tells the layer above that a plain HTTP exchange is over: the client closed the connection or reset the
/// HTTP/2 stream (or the response completed). Confined to the connection's event loop.
public final class HTTPCloseSignal: @unchecked Sendable {
    public let eventLoop: EventLoop
    private var handlers: [() -> Void] = []
    public private(set) var isClosed = false

    public init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    /// Runs `body` once the exchange is over (at once if it already is). Event loop only.
    public func whenClosed(_ body: @escaping () -> Void) {
        eventLoop.preconditionInEventLoop()
        if isClosed { body() } else { handlers.append(body) }
    }

    func fire() {
        eventLoop.preconditionInEventLoop()
        guard !isClosed else { return }
        isClosed = true
        let run = handlers
        handlers = []
        for body in run { body() }
    }
}

/// A response body written over time (the gateway's watch and keepalive streams). The producer may write
/// before the transport attaches (chunks wait here); once attached, chunks go straight out. Confined to
/// the connection's event loop.
public final class HTTPResponseStream: @unchecked Sendable {
    struct Sink {
        let write: (ByteBuffer) -> Void
        let finish: () -> Void
        let pending: () -> Int
    }
    public let eventLoop: EventLoop
    private var queued: [ByteBuffer] = []
    private var ended = false
    private var sink: Sink?

    public init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    /// Queues one chunk. Event loop only.
    public func write(_ chunk: ByteBuffer) {
        eventLoop.preconditionInEventLoop()
        guard !ended else { return }
        if let sink { sink.write(chunk) } else { queued.append(chunk) }
    }

    /// Ends the body after the queued chunks. Event loop only.
    public func finish() {
        eventLoop.preconditionInEventLoop()
        guard !ended else { return }
        ended = true
        sink?.finish()
    }

    /// Bytes written but not yet sent to the client (slow readers).
    public var pendingBytes: Int {
        sink?.pending() ?? queued.reduce(0) { $0 + $1.readableBytes }
    }

    /// The transport, once the response head is out.
    func attach(_ sink: Sink) {
        eventLoop.preconditionInEventLoop()
        self.sink = sink
        let waiting = queued
        queued = []
        for chunk in waiting { sink.write(chunk) }
        if ended { sink.finish() }
    }
}
