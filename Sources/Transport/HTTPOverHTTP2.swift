import NIOCore

/// A plain (non-gRPC) HTTP/2 request: the body is collected within a bound, then the `HTTPResponder` answers.
final class HTTPOverHTTP2: HTTP2StreamDelegate {
    private let responder: HTTPResponder
    private let maxBodyBytes: Int
    private let headers: HTTP2Headers
    private var body = ByteBuffer()
    private var rejected = false
    private var closeSignal: HTTPCloseSignal?

    init(responder: HTTPResponder, headers: HTTP2Headers, maxBodyBytes: Int) {
        self.responder = responder
        self.headers = headers
        self.maxBodyBytes = maxBodyBytes
    }

    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if endStream { respond(stream) }
    }

    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        if !rejected {
            if body.readableBytes + data.count > maxBodyBytes {
                rejected = true
                body = ByteBuffer()
            } else if data.count > 0 {
                body.writeBytes(data)
            }
        }
        if endStream { respond(stream) }
    }

    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        closeSignal?.fire()
        closeSignal = nil
    }

    private func respond(_ stream: HTTP2Stream) {
        if rejected { return Self.send(HTTPRejection.tooLarge(), on: stream) }
        let signal = HTTPCloseSignal(eventLoop: stream.eventLoop)
        closeSignal = signal
        var request = HTTPRequest(
            method: headers.method ?? "GET", uri: headers.path ?? "/",
            headers: headers.fields.filter { !$0.name.hasPrefix(":") }, body: body, closed: signal)
        request.peerCommonName = stream.peerCommonName
        body = ByteBuffer()
        responder.respond(to: request, on: stream.eventLoop).whenComplete { [stream] result in
            let response = (try? result.get()) ?? .json(500, #"{"error":"internal error","code":13}"#)
            HTTPOverHTTP2.send(response, on: stream)
        }
    }

    private static func send(_ response: HTTPResponse, on stream: HTTP2Stream) {
        var head = HTTP2Headers([(":status", String(response.status))])
        for field in response.headers { head.append(field.name.lowercased(), field.value) }
        if let body = response.stream {
            // DATA frames as the producer writes; END_STREAM at its finish.
            stream.sendResponseHeaders(head)
            body.attach(HTTPResponseStream.Sink(write: { stream.write($0) }, finish: { stream.finish() },
                                                pending: { stream.pendingOutboundBytes }))
            return
        }
        head.append("content-length", String(response.body.readableBytes))
        if response.body.readableBytes == 0 {
            stream.sendResponseHeaders(head, endStream: true)
        } else {
            stream.sendResponseHeaders(head)
            stream.write(response.body)
            stream.finish()
        }
    }
}
