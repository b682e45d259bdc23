/// A decoded HTTP/2 header block: pseudo-headers and regular fields in arrival order.
/// Names are lower-case on the wire in HTTP/2, so lookups compare bytes exactly.
public struct HTTP2Headers: Sendable {
    public var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    public subscript(name: String) -> String? {
        // Compared in place: iterating copies of the fields retained and released every value.
        fields.withUnsafeBufferPointer { f in
            for i in f.indices where f[i].name == name { return f[i].value }
            return nil
        }
    }

    public mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    public var method: String? { self[":method"] }
    public var path: String? { self[":path"] }
    public var status: String? { self[":status"] }
    public var contentType: String? { self["content-type"] }
}

/// Limits applied to every HTTP/2 connection, server or client.
public struct HTTP2Limits: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise.
    public var maxConcurrentStreams: UInt32 = 4096
    /// Per-stream receive window; large so a 1.5 MiB request needs few WINDOW_UPDATE round trips.
    public var initialWindowSize: UInt32 = 1 << 20
    /// Connection receive window.
    public var connectionWindowSize: Int32 = 16 << 20
    /// Largest header block we accept, in bytes (name + value lengths).
    public var maxHeaderListSize: Int = 64 << 10
    /// Bytes produced by nghttp2 per flush before we yield to the event loop.
    public var maxBytesPerFlush: Int = 1 << 20

    public init() {}
}
