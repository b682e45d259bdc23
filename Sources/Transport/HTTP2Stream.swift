import CNGHTTP2
import NIOCore

/// One HTTP/2 stream. Confined to its connection's event loop: every public method may be called from any
/// thread and hops there when needed, which is why it is `@unchecked Sendable`.
public final class HTTP2Stream: @unchecked Sendable {
    public let id: Int32
    public let eventLoop: EventLoop
    /// Held strongly while the stream is open and dropped when it closes (`markClosed`), which
    /// breaks the cycle through the connection's `streams`. A weak reference here moved the
    /// connection's reference count into a side table, so every retain and release of the
    /// connection, many per request, took the runtime's slow path.
    @exclusivity(unchecked) var connection: HTTP2Connection?
    /// The verified client certificate's CN of this stream's connection (nil once the stream has
    /// closed). Event loop only.
    public var peerCommonName: String? { connection?.peerCommonName }
    @exclusivity(unchecked) var delegate: HTTP2StreamDelegate?

    /// Bytes waiting for nghttp2's data provider to take them.
    @exclusivity(unchecked) var outbound: ByteBuffer
    /// Once `outbound` drains: end our side (with trailers if set).
    @exclusivity(unchecked) var outboundEnded = false
    @exclusivity(unchecked) var trailers: HTTP2Headers?
    /// nghttp2 holds a data provider for this stream (response or request body submitted).
    @exclusivity(unchecked) var providerSubmitted = false
    /// The data provider returned NGHTTP2_ERR_DEFERRED and must be resumed when data arrives.
    @exclusivity(unchecked) var deferred = false
    @exclusivity(unchecked) public private(set) var isClosed = false
    /// Bytes written but not yet taken by HTTP/2 (the peer's flow-control window holds them back when it
    /// reads slowly). Event loop only.
    public var pendingOutboundBytes: Int { outbound.readableBytes }
    /// Opaque slot for the layer above (e.g. the gRPC call object).
    @exclusivity(unchecked) public var context: AnyObject?

    init(id: Int32, connection: HTTP2Connection) {
        self.id = id
        self.eventLoop = connection.eventLoop
        self.connection = connection
        self.outbound = ByteBuffer()
    }

    // Every public method runs inline when called on the loop (the common case: the gRPC layer answers
    // from the loop) and only builds a closure to hop there otherwise.

    // MARK: Server side

    /// Sends response headers; the body (if any) follows through `write` and ends with `finish`.
    public func sendResponseHeaders(_ headers: HTTP2Headers, endStream: Bool = false) {
        guard eventLoop.inEventLoop else {
            return eventLoop.execute { self.sendResponseHeaders(headers, endStream: endStream) }
        }
        connection?.submitResponse(self, headers: headers, endStream: endStream)
    }

    // MARK: Both sides

    /// Queues body bytes.
    public func write(_ bytes: ByteBuffer) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.write(bytes) } }
        connection?.enqueue(self, bytes: bytes)
    }

    /// Queues body bytes given by a closure that writes into the stream's buffer (no intermediate copy).
    public func write(reservingCapacity: Int, _ fill: @escaping @Sendable (inout ByteBuffer) -> Void) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.write(reservingCapacity: reservingCapacity, fill) } }
        guard let connection, !isClosed, !outboundEnded else { return }
        outbound.reserveCapacity(minimumWritableBytes: reservingCapacity)
        fill(&outbound)
        connection.resume(self)
    }

    /// Ends our side once queued bytes are sent; with `trailers` they follow the last DATA frame.
    public func finish(trailers: HTTP2Headers? = nil) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.finish(trailers: trailers) } }
        connection?.finish(self, trailers: trailers)
    }

    /// Aborts the stream with RST_STREAM.
    public func reset(errorCode: UInt32 = NGHTTP2_CANCEL.rawValue) {
        guard eventLoop.inEventLoop else { return eventLoop.execute { self.reset(errorCode: errorCode) } }
        connection?.reset(self, errorCode: errorCode)
    }

    func markClosed() {
        isClosed = true
        connection = nil
        outbound = ByteBuffer()
    }
}
