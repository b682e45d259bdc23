import EtcdServer
import NIOCore

/// One request encoded once, gRPC prefix included, with the offset of its key bytes so each
/// client patches only the key before sending: no protobuf work per request.
struct RequestTemplate: Sendable {
    /// gRPC method path, e.g. `/etcdserverpb.KV/Put`.
    let path: String
    /// 5-byte gRPC prefix + the packed message.
    let framed: ByteBuffer
    /// Where the key starts in `framed`, and its length.
    let keyOffset: Int
    let keySize: Int

    static func put(keySize: Int, valueSize: Int, seed: UInt64) -> RequestTemplate {
        let placeholder = [UInt8](repeating: UInt8(ascii: "0"), count: keySize)
        // Random value bytes like etcd's benchmark; the same value for every request.
        var random = SplitMix64(seed: seed ^ 0x5eed)
        let value = (0..<valueSize).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let packed = RequestPacking.put(key: placeholder, value: value)
        return RequestTemplate(path: "/etcdserverpb.KV/Put", packed: packed, placeholder: placeholder)
    }

    static func range(keySize: Int, serializable: Bool) -> RequestTemplate {
        let placeholder = [UInt8](repeating: UInt8(ascii: "0"), count: keySize)
        let packed = RequestPacking.range(key: placeholder, serializable: serializable)
        return RequestTemplate(path: "/etcdserverpb.KV/Range", packed: packed, placeholder: placeholder)
    }

    /// Field 1 (the key, in both messages) is packed first: tag byte 0x0a, varint length, bytes.
    private init(path: String, packed: [UInt8], placeholder: [UInt8]) {
        var varintBytes = 1
        var length = placeholder.count >> 7
        while length > 0 { varintBytes += 1; length >>= 7 }
        let keyStart = 1 + varintBytes
        precondition(packed.first == 0x0a, "key is not the first packed field")
        precondition(Array(packed[keyStart..<keyStart + placeholder.count]) == placeholder, "key not where expected")
        var framed = ByteBuffer()
        framed.reserveCapacity(5 + packed.count)
        framed.writeInteger(UInt8(0))
        framed.writeInteger(UInt32(packed.count))
        framed.writeBytes(packed)
        self.path = path
        self.framed = framed
        self.keyOffset = 5 + keyStart
        self.keySize = placeholder.count
    }
}
