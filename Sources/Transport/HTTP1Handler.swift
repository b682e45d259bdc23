import NIOCore
import NIOHTTP1

/// HTTP/1.1 behind NIOHTTP1's codec: collects a bounded body, asks the responder, writes the answer.
final class HTTP1Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: HTTPResponder
    private let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var rejected = false
    private var quiescing = false
    private var inFlight = false
    /// The exchange in progress (fired when the client goes away or the response is complete).
    private var closeSignal: HTTPCloseSignal?
    /// The verified client certificate's CN, looked up once per connection (the handshake precedes this handler).
    private var peerCommonName: String??

    init(responder: HTTPResponder, maxBodyBytes: Int) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
            rejected = false
            // curl asks before sending bodies over 1 MiB; Go's server says yes at once (curl waits 1 s otherwise).
            if h.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .continue))),
                                      promise: nil)
            }
        case .body(var chunk):
            guard !rejected else { return }
            if body.readableBytes + chunk.readableBytes > maxBodyBytes {
                rejected = true
                body = ByteBuffer()
            } else {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive && !quiescing
            if rejected {
                write(HTTPRejection.tooLarge(), version: head.version, keepAlive: false, context: context)
                return
            }
            let signal = HTTPCloseSignal(eventLoop: context.eventLoop)
            closeSignal = signal
            var request = HTTPRequest(method: head.method.rawValue, uri: head.uri,
                                      headers: head.headers.map { ($0.name.lowercased(), $0.value) }, body: body,
                                      closed: signal)
            if peerCommonName == nil { peerCommonName = .some(ProtocolSniffer.verifiedCommonName(context)) }
            request.peerCommonName = peerCommonName ?? nil
            body = ByteBuffer()
            inFlight = true
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            responder.respond(to: request, on: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                let response = (try? result.get()) ?? .json(500, #"{"error":"internal error","code":13}"#)
                if let stream = response.stream {
                    handler.writeStreaming(response, stream, version: head.version, keepAlive: keepAlive, context: context) {
                        handler.inFlight = false
                        signal.fire()
                    }
                    return
                }
                handler.inFlight = false
                handler.write(response, version: head.version, keepAlive: keepAlive && !handler.quiescing, context: context)
                signal.fire()
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeSignal?.fire()
        closeSignal = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if !inFlight && head == nil { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Parse errors reach here after NIO's error handler has answered 400: shut the door.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Chunked transfer: the head now, each chunk as the producer writes it, the last chunk at its finish.
    private func writeStreaming(_ response: HTTPResponse, _ stream: HTTPResponseStream, version: HTTPVersion,
                                keepAlive: Bool, context: ChannelHandlerContext, done: @escaping () -> Void) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.remove(name: "content-length")
        headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))),
                              promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        stream.attach(HTTPResponseStream.Sink(
            write: { chunk in
                let (handler, context) = loopBound.value
                context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            },
            finish: {
                let (handler, context) = loopBound.value
                let written = context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
                written.assumeIsolated().whenComplete { _ in
                    let (handler, context) = loopBound.value
                    done()
                    if !keepAlive || handler.quiescing { context.close(promise: nil) }
                }
            },
            pending: {
                let (_, context) = loopBound.value
                return (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            }))
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
