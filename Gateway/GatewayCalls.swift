// What the gateway does with a handler's answers: one JSON document, or a chunked stream of results.
import CProtobufC
import NIOCore
import RPC
import Transport

/// A receiver the gateway can tell that the HTTP client went away.
protocol GatewayCallReceiver: InProcessCallReceiver {
    func clientGone()
}

private let jsonHeaders: [(name: String, value: String)] = [
    ("content-type", "application/json"), ("grpc-metadata-content-type", "application/grpc"),
]

/// JSON of a response message; nil only if the handler's bytes do not unpack (a server bug).
private func json(_ message: ByteBuffer, _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) -> [UInt8]? {
    message.withUnsafeReadableBytes { raw in try? ProtoJSON.encode(bytes: raw, descriptor: descriptor) }
}

/// Unary: the single response message, or the error, completes the HTTP response. Event loop only.
final class UnaryReceiver: GatewayCallReceiver {
    private let promise: EventLoopPromise<HTTPResponse>
    private let response: UnsafePointer<ProtobufCMessageDescriptor>
    private var message: ByteBuffer?
    private var done = false

    init(promise: EventLoopPromise<HTTPResponse>, response: UnsafePointer<ProtobufCMessageDescriptor>) {
        self.promise = promise
        self.response = response
    }

    var pendingOutboundBytes: Int { 0 }

    func call(_ call: ServerCall, sent message: ByteBuffer) {
        if self.message == nil { self.message = message }
    }

    func call(_ call: ServerCall, finished status: GRPCStatus) {
        guard !done else { return }
        done = true
        guard status == .ok else { return promise.succeed(GatewayErrors.response(status)) }
        guard let message, let body = json(message, response) else {
            return promise.succeed(GatewayErrors.response(GRPCStatus(.internal, "gateway: no valid response message")))
        }
        promise.succeed(HTTPResponse(status: 200, headers: jsonHeaders, body: ByteBuffer(bytes: body)))
    }

    func clientGone() {
        guard !done else { return }
        done = true
        promise.succeed(GatewayErrors.response(GRPCStatus(.cancelled, "context canceled")))
    }
}

/// Streams: the HTTP head goes out with the first message (200) or with an error that comes first (its
/// status), as Go's ResponseWriter does; then one `{"result":…}` line per message. Event loop only.
final class StreamReceiver: GatewayCallReceiver {
    private let promise: EventLoopPromise<HTTPResponse>
    private let response: UnsafePointer<ProtobufCMessageDescriptor>
    private let body: HTTPResponseStream
    private var started = false

    init(promise: EventLoopPromise<HTTPResponse>, response: UnsafePointer<ProtobufCMessageDescriptor>,
         eventLoop: EventLoop) {
        self.promise = promise
        self.response = response
        self.body = HTTPResponseStream(eventLoop: eventLoop)
    }

    var pendingOutboundBytes: Int { body.pendingBytes }

    private func start(status: Int) {
        guard !started else { return }
        started = true
        promise.succeed(HTTPResponse(status: status, headers: jsonHeaders, stream: body))
    }

    func call(_ call: ServerCall, sent message: ByteBuffer) {
        guard let text = json(message, response) else {
            return self.call(call, finished: GRPCStatus(.internal, "gateway: invalid response message"))
        }
        start(status: 200)
        var chunk = ByteBufferAllocator().buffer(capacity: text.count + 12)
        chunk.writeStaticString(#"{"result":"#)
        chunk.writeBytes(text)
        chunk.writeStaticString("}\n")
        body.write(chunk)
    }

    func call(_ call: ServerCall, finished status: GRPCStatus) {
        if status != .ok {
            start(status: GatewayErrors.httpStatus(status.code))
            body.write(GatewayErrors.streamChunk(status))
        }
        start(status: 200)
        body.finish()
    }

    func clientGone() {
        start(status: 200)
        body.finish()
    }
}
