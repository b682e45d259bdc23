import NIOCore
import Transport

/// Receives what a handler answers on an in-process call, on the call's event loop.
public protocol InProcessCallReceiver: AnyObject {
    /// One response message (protobuf bytes, no gRPC framing).
    func call(_ call: ServerCall, sent message: ByteBuffer)
    /// The handler finished the call (OK or an error). Not called when the caller cancelled.
    func call(_ call: ServerCall, finished status: GRPCStatus)
    /// Response bytes not yet taken by the consumer (slow-reader back-pressure, as on HTTP/2).
    var pendingOutboundBytes: Int { get }
}

/// A call made in process to a handler registered on a `GRPCServer`, without HTTP/2 or framing: the JSON
/// gateway's way of reaching the same service code as gRPC. Mirrors `GRPCServerStream`: unary methods get
/// their single request at `end()`, streaming methods every request as it comes. Event loop only.
public final class InProcessCall {
    public let call: ServerCall
    private var delivery: RequestDelivery

    /// Starts a call to `path`; nil when no handler is registered there.
    public init?(server: GRPCServer, path: String, headers: [(name: String, value: String)],
                 eventLoop: EventLoop, receiver: InProcessCallReceiver) {
        guard let handler = server.handler(for: path) else { return nil }
        var h2 = HTTP2Headers([(":method", "POST"), (":path", path), ("content-type", "application/grpc")])
        for field in headers {
            let name = field.name.lowercased()  // HTTP/1.1 names are any case; HTTP/2's are lower case
            guard !name.hasPrefix(":"), name != "content-type" else { continue }
            h2.append(name, field.value)
        }
        self.call = ServerCall(path: path, headers: h2, eventLoop: eventLoop, receiver: receiver,
                               metrics: server.metrics(for: path))
        self.delivery = RequestDelivery(handler: handler)
        if case .streaming(let start) = handler { start(call) }
    }

    /// One request message (protobuf bytes).
    public func send(_ message: ByteBuffer) {
        call.eventLoop.preconditionInEventLoop()
        guard !call.isFinished, !call.isCancelled else { return }
        delivery.receive(message, on: call)
    }

    /// The caller has no more requests (half-close).
    public func end() {
        call.eventLoop.preconditionInEventLoop()
        guard !call.isFinished, !call.isCancelled else { return }
        delivery.end(on: call)
    }

    /// The caller went away: the handler sees a cancelled call, as when a gRPC client resets its stream.
    public func cancel() {
        call.eventLoop.preconditionInEventLoop()
        call.cancel()
    }
}
