import NIOCore

/// The client half of the transport, for the RPC layer's client: create a client session and open streams.
public enum HTTP2ClientSetup {
    public static func makeConnection(eventLoop: EventLoop, limits: HTTP2Limits = HTTP2Limits()) -> HTTP2Connection {
        HTTP2Connection(role: .client, eventLoop: eventLoop, limits: limits, router: nil)
    }

    /// Adds the HTTP/2 handler for `connection` to the channel (on its event loop).
    public static func install(_ connection: HTTP2Connection, on channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(HTTP2ChannelHandler(connection: connection))
    }

    /// Opens a request stream; nil when the connection is closing. Must run on the connection's loop.
    public static func start(_ connection: HTTP2Connection, headers: HTTP2Headers, endStream: Bool = false,
                             delegate: HTTP2StreamDelegate) -> HTTP2Stream? {
        connection.eventLoop.preconditionInEventLoop()
        return connection.startRequest(headers: headers, endStream: endStream, delegate: delegate)
    }
}
