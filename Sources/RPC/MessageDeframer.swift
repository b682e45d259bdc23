import NIOCore

/// Splits a gRPC byte stream into messages: 1 byte compressed flag, 4 bytes big-endian length, payload.
/// Never buffers more than one message plus its prefix: a length over `maxMessageBytes` fails at once.
struct MessageDeframer {
    let maxMessageBytes: Int
    private var buffer = ByteBuffer()

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    var hasPartialMessage: Bool { buffer.readableBytes > 0 }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { buffer.writeBytes(bytes) }
    }

    /// The next complete message, nil if more bytes are needed; throws on a protocol violation.
    mutating func next() throws(GRPCStatus) -> ByteBuffer? {
        guard buffer.readableBytes >= 5 else { return nil }
        let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)!)
        if flag != 0 {
            throw GRPCStatus(.unimplemented, "grpc: Decompressor is not installed for grpc-encoding \"\"")
        }
        if length > maxMessageBytes {
            throw GRPCStatus(.resourceExhausted, "grpc: received message larger than max (\(length) vs. \(maxMessageBytes))")
        }
        guard buffer.readableBytes >= 5 + length else {
            buffer.reserveCapacity(minimumWritableBytes: 5 + length - buffer.readableBytes)
            return nil
        }
        buffer.moveReaderIndex(forwardBy: 5)
        let message = buffer.readSlice(length: length)!
        if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
        return message
    }
}

/// Writes the 5-byte gRPC prefix for an uncompressed message of `length` bytes.
@inline(__always)
func writeMessagePrefix(length: Int, into buffer: inout ByteBuffer) {
    buffer.writeInteger(UInt8(0))
    buffer.writeInteger(UInt32(length))
}
