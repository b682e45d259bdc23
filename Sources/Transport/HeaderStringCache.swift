#if canImport(Glibc)
import Glibc
#endif

/// The header block a connection is receiving (HTTP/2 sends one block at a time).
struct HeaderBlock {
    let id: Int32
    var headers: HTTP2Headers
    /// Name + value bytes plus 32 per field, as RFC 9113 counts SETTINGS_MAX_HEADER_LIST_SIZE.
    var size = 0

    init(id: Int32) {
        self.id = id
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(8)  // a gRPC request's block
        headers = HTTP2Headers(fields)
    }
}

/// Header strings a connection received recently. A gRPC client repeats the same long names and
/// values on every request (":path", "content-type: application/grpc", its user agent); reusing
/// the String already made saves an allocation per field. Strings of up to 15 UTF-8 bytes are
/// stored inline by Swift and never cached. Bounded: `capacity` entries, replaced in turn.
struct HeaderStringCache {
    static let capacity = 32
    private var strings: [String] = []
    private var next = 0

    mutating func string(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return "" }
        if bytes.count <= 15 { return String(decoding: bytes, as: UTF8.self) }
        for i in strings.indices {
            let match = strings[i].utf8.count == bytes.count && strings[i].utf8.withContiguousStorageIfAvailable {
                memcmp($0.baseAddress!, base, bytes.count) == 0
            } == true
            if match { return strings[i] }
        }
        let made = String(decoding: bytes, as: UTF8.self)
        if strings.count < Self.capacity {
            strings.append(made)
        } else {
            strings[next] = made
            next = (next + 1) % Self.capacity
        }
        return made
    }
}
