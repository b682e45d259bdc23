import NIOCore
import NIOPosix
import Transport

/// The outcome of a client call: the messages received and the final status.
public struct GRPCResponse: Sendable {
    public var messages: [ByteBuffer]
    public var status: GRPCStatus
}

/// One client call on an HTTP/2 stream. Loop-confined; public methods hop to the loop.
public final class ClientCall: HTTP2StreamDelegate, @unchecked Sendable {
    public let eventLoop: EventLoop
    fileprivate var stream: HTTP2Stream?
    private var deframer: MessageDeframer
    private var messages: [ByteBuffer] = []
    private var status: GRPCStatus?
    private let onMessage: (@Sendable (ByteBuffer) -> Void)?
    fileprivate let promise: EventLoopPromise<GRPCResponse>
    public var response: EventLoopFuture<GRPCResponse> { promise.futureResult }

    fileprivate init(eventLoop: EventLoop, maxMessageBytes: Int, onMessage: (@Sendable (ByteBuffer) -> Void)?) {
        self.eventLoop = eventLoop
        self.deframer = MessageDeframer(maxMessageBytes: maxMessageBytes)
        self.onMessage = onMessage
        self.promise = eventLoop.makePromise()
    }

    /// Sends one request message (already encoded, without the gRPC prefix).
    public func send(_ message: ByteBuffer) {
        var framed = ByteBufferAllocator().buffer(capacity: 5 + message.readableBytes)
        writeMessagePrefix(length: message.readableBytes, into: &framed)
        var message = message
        framed.writeBuffer(&message)
        sendRaw(framed)
    }

    /// Sends bytes as they are, prefix or not: for tests that feed malformed frames.
    public func sendRaw(_ bytes: ByteBuffer) {
        eventLoop.execute { self.stream?.write(bytes) }
    }

    /// Half-closes the request side.
    public func closeSend() {
        eventLoop.execute { self.stream?.finish() }
    }

    /// Resets the stream (RST_STREAM CANCEL).
    public func cancel() {
        eventLoop.execute { self.stream?.reset() }
    }

    public func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool) {
        if let code = headers["grpc-status"] {
            let message = PercentEncoding.decode(headers["grpc-message"] ?? "")
            status = GRPCStatus(GRPCStatus.Code(rawValue: Int(code) ?? 2) ?? .unknown, message)
        } else if let http = headers.status, http != "200" {
            status = GRPCStatus(.unknown, "unexpected HTTP status code \(http)")
        }
    }

    public func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool) {
        deframer.append(data)
        do {
            while let message = try deframer.next() {
                if let onMessage { onMessage(message) } else { messages.append(message) }
            }
        } catch {
            status = error
            stream.reset()
        }
    }

    public func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        self.stream = nil
        let final = status ?? GRPCStatus(errorCode == 0 ? .internal : .unavailable,
                                         errorCode == 0 ? "server closed the stream without a status"
                                                        : "stream reset (HTTP/2 error code \(errorCode))")
        promise.succeed(GRPCResponse(messages: messages, status: final))
    }
}

/// A client HTTP/2 connection for gRPC: our tests, the peer transport and the benchmark use it.
public final class GRPCClientConnection: Sendable {
    public let channel: Channel
    private let connection: HTTP2Connection
    public let authority: String
    public let maxMessageBytes: Int
    public var eventLoop: EventLoop { channel.eventLoop }

    /// `:scheme` of every call: "https" over TLS.
    public let scheme: String

    private init(channel: Channel, connection: HTTP2Connection, authority: String, maxMessageBytes: Int, scheme: String) {
        self.scheme = scheme
        self.channel = channel
        self.connection = connection
        self.authority = authority
        self.maxMessageBytes = maxMessageBytes
    }

    /// Connects over TCP; with `tls`, HTTP/2 runs inside TLS (ALPN h2) and `host` is verified against the
    /// server's certificate.
    public static func connect(host: String, port: Int, group: EventLoopGroup, tls: TLSClientSecurity? = nil,
                               maxMessageBytes: Int = 64 << 20) async throws -> GRPCClientConnection {
        let eventLoop = group.next()
        let connection = HTTP2ClientSetup.makeConnection(eventLoop: eventLoop)
        let channel = try await ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tls.install(on: channel, host: host) }
                    try HTTP2ClientSetup.install(connection, on: channel)
                }
            }
            .connect(host: host, port: port).get()
        return GRPCClientConnection(channel: channel, connection: connection, authority: "\(host):\(port)",
                                    maxMessageBytes: maxMessageBytes, scheme: tls == nil ? "http" : "https")
    }

    /// Starts a call; messages are delivered to `onMessage` (streaming) or collected in the response.
    public func makeCall(_ path: String, timeout: TimeAmount? = nil, metadata: [(String, String)] = [],
                         onMessage: (@Sendable (ByteBuffer) -> Void)? = nil) -> EventLoopFuture<ClientCall> {
        let connection = self.connection
        let authority = self.authority
        let scheme = self.scheme
        let maxMessageBytes = self.maxMessageBytes
        return eventLoop.submit {
            let call = ClientCall(eventLoop: connection.eventLoop, maxMessageBytes: maxMessageBytes, onMessage: onMessage)
            var headers = HTTP2Headers([
                (":method", "POST"), (":scheme", scheme), (":path", path), (":authority", authority),
                ("content-type", "application/grpc"), ("te", "trailers"),
            ])
            if let timeout { headers.append("grpc-timeout", GRPCTimeout.encode(timeout)) }
            for (name, value) in metadata { headers.append(name, value) }
            guard let stream = HTTP2ClientSetup.start(connection, headers: headers, delegate: call) else {
                let status = GRPCStatus(.unavailable, "connection is closing")
                call.promise.fail(status)
                throw status
            }
            call.stream = stream
            return call
        }
    }

    /// A unary call: one request, the collected response.
    public func unary(_ path: String, request: ByteBuffer, timeout: TimeAmount? = nil,
                      metadata: [(String, String)] = []) -> EventLoopFuture<GRPCResponse> {
        makeCall(path, timeout: timeout, metadata: metadata).flatMap { call in
            call.send(request)
            call.closeSend()
            return call.response
        }
    }

    /// Unary, async: the single response message, or the non-OK status thrown.
    public func unary(_ path: String, _ request: [UInt8], timeout: TimeAmount? = nil) async throws -> ByteBuffer {
        let response = try await unary(path, request: ByteBuffer(bytes: request), timeout: timeout).get()
        guard response.status.code == .ok else { throw response.status }
        guard response.messages.count == 1 else {
            throw GRPCStatus(.internal, "expected one response message, got \(response.messages.count)")
        }
        return response.messages[0]
    }

    public func close() async {
        try? await channel.close()
    }
}
