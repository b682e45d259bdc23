/// A gRPC status: the `grpc-status` code and the (percent-encoded on the wire) `grpc-message`.
public struct GRPCStatus: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = GRPCStatus(.ok)

    public var description: String { "grpc-status \(code.rawValue) (\(code)): \(message)" }

    public enum Code: Int, Sendable, Equatable {
        case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists,
             permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented,
             `internal`, unavailable, dataLoss, unauthenticated

        /// Go's codes.Code.String(), indexed by the code's number (metrics labels, error texts).
        public static let goNames = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
                                     "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
                                     "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
                                     "Unauthenticated"]

        public var goName: String { Self.goNames[rawValue] }
    }
}

/// grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself (gRPC HTTP/2 spec).
public enum PercentEncoding {
    public static func encode(_ text: String) -> String {
        var needs = false
        for byte in text.utf8 where byte < 0x20 || byte > 0x7E || byte == 0x25 { needs = true; break }
        guard needs else { return text }
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        for byte in text.utf8 {
            if byte < 0x20 || byte > 0x7E || byte == 0x25 {
                out.append(0x25)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lenient, as gRPC requires: an invalid escape is kept as is.
    public static func decode(_ text: String) -> String {
        guard text.utf8.contains(0x25) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25, i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
