import NIOCore
import RPC
import Raft
import Transport

/// The peer wire format (Keel talks only to Keel here): gRPC framing over h2c.
///
/// `/keel.raft.Peer/Stream` — one long-lived call per ordered pair of members, opened by the sender.
///   Request: a stream of gRPC messages, each one `Raft.Message` in the Raft codec (version byte + fields).
///   Response: 8-byte big-endian acknowledgments, cumulative counts of request bytes (5-byte gRPC prefix
///   included) the receiver has handed to Raft. The first one, 0, is sent as soon as the call is accepted: it
///   is the "hello" that makes the stream live. The sender keeps at most `maxInFlightBytesPerPeer`
///   unacknowledged.
/// `/keel.raft.Peer/Snapshot` — one call per snapshot, on a connection of its own.
///   Request: the `Raft.Message` (type `.snapshot`), then the state-machine image as raw chunks.
///   Response: 8-byte cumulative counts of image bytes written to disk; OK once the image is fsynced and
///   handed to the receiver's handler.
/// Headers on both: `x-keel-cluster-id`, `x-keel-from`, `x-keel-to` (hex member ids);
/// `x-keel-snapshot-size` (decimal bytes of the image) on Snapshot.
enum PeerWire {
    static let streamPath = "/keel.raft.Peer/Stream"
    static let snapshotPath = "/keel.raft.Peer/Snapshot"
    static let clusterHeader = "x-keel-cluster-id"
    static let fromHeader = "x-keel-from"
    static let toHeader = "x-keel-to"
    static let snapshotSizeHeader = "x-keel-snapshot-size"
    /// The refusal a removed member's streams get (etcd's text for the same situation).
    static let removedMessage = "the member has been permanently removed from the cluster"

    static let prefixBytes = 5
    static let ackBytes = 8

    static func hex(_ id: UInt64) -> String { String(id, radix: 16) }

    static func parseHex(_ text: String?) -> UInt64? {
        guard let text, !text.isEmpty, text.utf8.count <= 16 else { return nil }
        return UInt64(text, radix: 16)
    }

    static func requestHeaders(path: String, authority: String, clusterID: UInt64, from: UInt64, to: UInt64,
                               extra: [(String, String)] = []) -> HTTP2Headers {
        var headers = HTTP2Headers([
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
            ("content-type", "application/grpc"), ("te", "trailers"),
            (clusterHeader, hex(clusterID)), (fromHeader, hex(from)), (toHeader, hex(to)),
        ])
        for (name, value) in extra { headers.append(name, value) }
        return headers
    }

    /// Reads an acknowledgment message.
    static func ack(_ message: ByteBuffer) -> UInt64? {
        guard message.readableBytes == ackBytes else { return nil }
        return message.getInteger(at: message.readerIndex, as: UInt64.self)
    }

    static func sendAck(_ value: UInt64, on call: ServerCall) {
        call.send(size: ackBytes) { raw in raw.storeBytes(of: value.bigEndian, as: UInt64.self) }
    }

    /// Appends one gRPC frame holding `message` in the Raft codec to `writer`; returns its framed size.
    static func appendFramed(_ message: Message, to writer: inout RaftWriter) -> Int {
        let start = writer.bytes.count
        writer.bytes.append(contentsOf: [0, 0, 0, 0, 0] as [UInt8])
        message.encode(to: &writer)
        let length = UInt32(truncatingIfNeeded: writer.bytes.count - start - prefixBytes)
        writer.bytes[start + 1] = UInt8(truncatingIfNeeded: length >> 24)
        writer.bytes[start + 2] = UInt8(truncatingIfNeeded: length >> 16)
        writer.bytes[start + 3] = UInt8(truncatingIfNeeded: length >> 8)
        writer.bytes[start + 4] = UInt8(truncatingIfNeeded: length)
        return writer.bytes.count - start
    }

    /// A cheap upper-ish estimate of a message's encoded size, to size batches before encoding them.
    static func estimatedSize(_ message: Message) -> Int {
        var n = 64 + message.context.count
        for entry in message.entries { n += entry.data.count + 24 }
        if let snapshot = message.snapshot { n += snapshot.data.count + 16 + 10 * snapshot.metadata.confState.members.count }
        return n
    }
}

/// Splits the response side of a call into gRPC messages (bounded: one message plus its prefix).
struct GRPCFrameReader {
    let maxMessageBytes: Int
    private var buffer = ByteBuffer()

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { buffer.writeBytes(bytes) }
    }

    mutating func next() throws(GRPCStatus) -> ByteBuffer? {
        guard buffer.readableBytes >= 5 else { return nil }
        let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)!)
        guard flag == 0 else { throw GRPCStatus(.unimplemented, "compressed message from peer") }
        guard length <= maxMessageBytes else {
            throw GRPCStatus(.resourceExhausted, "peer message larger than max (\(length) vs. \(maxMessageBytes))")
        }
        guard buffer.readableBytes >= 5 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let message = buffer.readSlice(length: length)!
        if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
        return message
    }
}
