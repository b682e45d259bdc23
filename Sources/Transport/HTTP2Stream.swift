import CNGHTTP2
import NIOCore

/// One HTTP/2 stream. Confined to its connection's event loop: every public method may be called from any
/// thread and hops there when needed, which is why it is `@unchecked Sendable`.
public final class HTTP2Stream: @unchecked Sendable {
    public let id: Int32
    public let eventLoop: EventLoop
    weak var connection: HTTP2Connection?
    var delegate: HTTP2StreamDelegate?

    /// Bytes waiting for nghttp2's data provider to take them.
    var outbound: ByteBuffer
    /// Once `outbound` drains: end our side (with trailers if set).
    var outboundEnded = false
    var trailers: HTTP2Headers?
    /// nghttp2 holds a data provider for this stream (response or request body submitted).
    var providerSubmitted = false
    /// The data provider returned NGHTTP2_ERR_DEFERRED and must be resumed when data arrives.
    var deferred = false
    public private(set) var isClosed = false
    /// Opaque slot for the layer above (e.g. the gRPC call object).
    public var context: AnyObject?

    init(id: Int32, connection: HTTP2Connection) {
        self.id = id
        self.eventLoop = connection.eventLoop
        self.connection = connection
        self.outbound = ByteBuffer()
    }

    /// Runs `body` on the event loop: inline when already there.
    @inline(__always)
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    // MARK: Server side

    /// Sends response headers; the body (if any) follows through `write` and ends with `finish`.
    public func sendResponseHeaders(_ headers: HTTP2Headers, endStream: Bool = false) {
        onLoop { self.connection?.submitResponse(self, headers: headers, endStream: endStream) }
    }

    // MARK: Both sides

    /// Queues body bytes.
    public func write(_ bytes: ByteBuffer) {
        onLoop { self.connection?.enqueue(self, bytes: bytes) }
    }

    /// Queues body bytes given by a closure that writes into the stream's buffer (no intermediate copy).
    public func write(reservingCapacity: Int, _ fill: @escaping @Sendable (inout ByteBuffer) -> Void) {
        onLoop {
            guard let connection = self.connection, !self.isClosed, !self.outboundEnded else { return }
            self.outbound.reserveCapacity(minimumWritableBytes: reservingCapacity)
            fill(&self.outbound)
            connection.resume(self)
        }
    }

    /// Ends our side once queued bytes are sent; with `trailers` they follow the last DATA frame.
    public func finish(trailers: HTTP2Headers? = nil) {
        onLoop { self.connection?.finish(self, trailers: trailers) }
    }

    /// Aborts the stream with RST_STREAM.
    public func reset(errorCode: UInt32 = NGHTTP2_CANCEL.rawValue) {
        onLoop { self.connection?.reset(self, errorCode: errorCode) }
    }

    func markClosed() {
        isClosed = true
        outbound = ByteBuffer()
    }
}
