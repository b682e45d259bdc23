import NIOCore

/// A plain HTTP request (HTTP/1.1, or HTTP/2 without `application/grpc`): `/version`, `/health`, the gateway.
public struct HTTPRequest: Sendable {
    public var method: String
    public var uri: String
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer
    /// Fires when the client goes away (connection closed, HTTP/2 stream reset) or the exchange ends.
    public var closed: HTTPCloseSignal?
    /// The CN of the client certificate TLS verified on this connection (nil: none, or plaintext).
    public var peerCommonName: String?

    public init(method: String, uri: String, headers: [(name: String, value: String)], body: ByteBuffer,
                closed: HTTPCloseSignal? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.closed = closed
    }

    public var path: Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer
    /// A body that arrives over time (chunked on HTTP/1.1): when set, `body` is ignored.
    public var stream: HTTPResponseStream?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, headers: [(name: String, value: String)], stream: HTTPResponseStream) {
        self.status = status
        self.headers = headers
        self.body = ByteBuffer()
        self.stream = stream
    }

    public static func json(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("content-type", "application/json")], body: ByteBuffer(string: text))
    }
}

/// Answers plain HTTP requests; the same responder serves HTTP/1.1 and HTTP/2.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse>
}

/// Reasons a plain HTTP request is refused before it reaches the responder.
enum HTTPRejection {
    static func tooLarge() -> HTTPResponse {
        .json(413, #"{"error":"request body too large","code":8}"#)
    }
}
