/// What the layer above (gRPC, the JSON gateway, a client call) sees of one HTTP/2 stream.
/// Every method is called on the connection's event loop, inside nghttp2's receive path.
public protocol HTTP2StreamDelegate: AnyObject {
    /// Request headers (server), response headers or trailers (client). `endStream` ends the peer's side.
    func stream(_ stream: HTTP2Stream, receivedHeaders headers: HTTP2Headers, endStream: Bool)
    /// A chunk of DATA. The pointer is only valid during the call.
    func stream(_ stream: HTTP2Stream, receivedData data: UnsafeRawBufferPointer, endStream: Bool)
    /// The stream is gone: finished normally (errorCode 0) or reset / connection lost.
    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32)
}

/// Server side: picks the delegate for a new stream once its request headers are complete.
public protocol HTTP2StreamRouter: Sendable {
    func delegate(for stream: HTTP2Stream, headers: HTTP2Headers) -> HTTP2StreamDelegate
}
