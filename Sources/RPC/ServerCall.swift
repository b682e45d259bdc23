import CNGHTTP2
import NIOCore
import Transport

/// Receives the request messages of a client-streaming or bidirectional call, on the call's event loop.
public protocol GRPCRequestObserver: AnyObject {
    func call(_ call: ServerCall, received message: ByteBuffer)
    /// The client half-closed: no more messages.
    func callReceivedEnd(_ call: ServerCall)
    /// The call ended without `finish` from us: client reset, connection lost, or deadline passed.
    func callCancelled(_ call: ServerCall)
}

/// One gRPC call on the server. Confined to its stream's event loop; the public sending methods may be called
/// from any thread and hop there (hence `@unchecked Sendable`).
public final class ServerCall: @unchecked Sendable {
    public let path: String
    public let headers: HTTP2Headers
    public let eventLoop: EventLoop
    /// Where responses go: the HTTP/2 stream (gRPC), or an in-process receiver (the JSON gateway).
    let stream: HTTP2Stream?
    @exclusivity(unchecked) var receiver: InProcessCallReceiver?
    private let metrics: GRPCMethodMetrics?
    private let startedAt: NIODeadline
    @exclusivity(unchecked) private var headersSent = false
    @exclusivity(unchecked) public private(set) var isFinished = false
    @exclusivity(unchecked) public private(set) var isCancelled = false
    @exclusivity(unchecked) var observer: GRPCRequestObserver?
    @exclusivity(unchecked) private var deadlineTask: Scheduled<Void>?
    private var cancelHandlers: [@Sendable () -> Void] = []

    init(path: String, headers: HTTP2Headers, stream: HTTP2Stream, metrics: GRPCMethodMetrics? = nil) {
        self.metrics = metrics
        self.startedAt = metrics?.measuresLatency == true ? .now() : .uptimeNanoseconds(0)
        self.path = path
        self.headers = headers
        self.stream = stream
        self.eventLoop = stream.eventLoop
    }

    init(path: String, headers: HTTP2Headers, eventLoop: EventLoop, receiver: InProcessCallReceiver,
         metrics: GRPCMethodMetrics? = nil) {
        self.metrics = metrics
        self.startedAt = metrics?.measuresLatency == true ? .now() : .uptimeNanoseconds(0)
        self.path = path
        self.headers = headers
        self.stream = nil
        self.receiver = receiver
        self.eventLoop = eventLoop
    }

    /// The CN of the client certificate TLS verified for this call's connection; nil for plaintext, no
    /// certificate, or an in-process (gateway) call.
    public var peerCommonName: String? { stream?.peerCommonName }

    static let responseHeaders = HTTP2Headers([(":status", "200"), ("content-type", "application/grpc")])
    static let okTrailers = HTTP2Headers([("grpc-status", "0")])

    /// Sends one message whose encoding `encode` writes into `size` bytes. The encoding happens on the calling
    /// thread, straight into the outgoing buffer.
    public func send(size: Int, encode: (UnsafeMutableRawBufferPointer) -> Void) {
        send(framed: Self.frame(size: size, encode: encode), finishWith: nil)
    }

    /// Sends an already-encoded message.
    public func send(_ message: ByteBuffer) {
        var buffer = ByteBufferAllocator().buffer(capacity: 5 + message.readableBytes)
        writeMessagePrefix(length: message.readableBytes, into: &buffer)
        var message = message
        buffer.writeBuffer(&message)
        send(framed: buffer, finishWith: nil)
    }

    /// A unary answer in one hop: the message, then OK.
    public func respond(size: Int, encode: (UnsafeMutableRawBufferPointer) -> Void) {
        send(framed: Self.frame(size: size, encode: encode), finishWith: .ok)
    }

    /// One gRPC frame: the prefix, then `encode` writing exactly `size` bytes in place.
    private static func frame(size: Int, encode: (UnsafeMutableRawBufferPointer) -> Void) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 5 + size)
        writeMessagePrefix(length: size, into: &buffer)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            encode(UnsafeMutableRawBufferPointer(rebasing: raw.prefix(size)))
            return size
        }
        return buffer
    }

    /// Response bytes queued behind the client's flow-control window. Event loop only.
    public var pendingOutboundBytes: Int { stream?.pendingOutboundBytes ?? receiver?.pendingOutboundBytes ?? 0 }

    /// Ends the call with `status` (trailers; trailers-only if nothing was sent).
    public func finish(_ status: GRPCStatus) {
        if eventLoop.inEventLoop { finishOnLoop(status) } else { eventLoop.execute { self.finishOnLoop(status) } }
    }

    private func send(framed: ByteBuffer, finishWith status: GRPCStatus?) {
        if eventLoop.inEventLoop {
            sendOnLoop(framed, finishWith: status)
        } else {
            eventLoop.execute { self.sendOnLoop(framed, finishWith: status) }
        }
    }

    private func sendOnLoop(_ framed: ByteBuffer, finishWith status: GRPCStatus?) {
        guard !isFinished, !isCancelled else { return }
        guard let stream else {
            var message = framed
            message.moveReaderIndex(forwardBy: 5)  // the gRPC prefix; in process there is no framing
            receiver?.call(self, sent: message)
            if let status { finishOnLoop(status) }
            return
        }
        if !headersSent {
            headersSent = true
            stream.sendResponseHeaders(Self.responseHeaders)
        }
        stream.write(framed)
        if let status { finishOnLoop(status) }
    }

    func finishOnLoop(_ status: GRPCStatus) {
        guard !isFinished, !isCancelled else { return }
        isFinished = true
        deadlineTask?.cancel()
        deadlineTask = nil
        metrics?.handled(status.code, startedAt: startedAt)
        guard let stream else {
            let receiver = self.receiver
            self.receiver = nil
            observer = nil
            cancelHandlers = []
            receiver?.call(self, finished: status)
            return
        }
        var trailers: HTTP2Headers
        if status == .ok {
            trailers = Self.okTrailers
        } else {
            trailers = HTTP2Headers([("grpc-status", String(status.code.rawValue))])
            if !status.message.isEmpty { trailers.append("grpc-message", PercentEncoding.encode(status.message)) }
        }
        if headersSent {
            stream.finish(trailers: trailers)
        } else {
            headersSent = true
            var only = Self.responseHeaders
            only.fields.append(contentsOf: trailers.fields)
            stream.sendResponseHeaders(only, endStream: true)
        }
        observer = nil
        cancelHandlers = []
    }

    /// Registers `observer` for request messages (streaming calls).
    public func setObserver(_ observer: GRPCRequestObserver) {
        self.observer = observer
    }

    /// Runs `body` on the event loop if the call ends before we finish it: cancelled by the client, its
    /// connection lost, or its deadline passed (at once if that already happened). Never after we finished
    /// it, even if the client resets the stream afterwards.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        let register: @Sendable () -> Void = {
            if self.isFinished { return }
            if self.isCancelled { body() } else { self.cancelHandlers.append(body) }
        }
        if eventLoop.inEventLoop { register() } else { eventLoop.execute(register) }
    }

    func armDeadline(_ timeout: TimeAmount) {
        deadlineTask = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
            guard !self.isFinished else { return }
            let handlers = self.cancelHandlers  // the handler's work ends too, as on a cancel
            self.finishOnLoop(GRPCStatus(.deadlineExceeded, "context deadline exceeded"))
            for handler in handlers { handler() }
            self.cancel()
        }
    }

    func cancel() {
        guard !isCancelled else { return }
        let wasFinished = isFinished
        isCancelled = true
        if !wasFinished { metrics?.handled(.cancelled, startedAt: startedAt) }
        deadlineTask?.cancel()
        deadlineTask = nil
        if let observer {
            self.observer = nil
            observer.callCancelled(self)
        }
        let handlers = cancelHandlers
        cancelHandlers = []
        for handler in handlers { handler() }
        receiver = nil
        if !wasFinished { stream?.reset(errorCode: NGHTTP2_CANCEL.rawValue) }
    }
}
