import KeelClient
import NIOCore

/// One request encoded once by KeelClient, gRPC prefix included, with where its keys sit, so each
/// client patches only the key bytes before sending: no protobuf work per request.
struct RequestTemplate: Sendable {
    /// gRPC method path, e.g. `/etcdserverpb.KV/Put`.
    let path: String
    /// 5-byte gRPC prefix + the packed message.
    let framed: ByteBuffer
    /// Where each key starts in `framed` (one per operation; a txn-put has several), and the key length.
    let keyOffsets: [Int]
    let keySize: Int

    static func put(keySize: Int, valueSize: Int, seed: UInt64) -> RequestTemplate {
        let value = randomValue(valueSize, seed: seed)
        let key = placeholder(keySize, 0)
        return RequestTemplate(path: "/etcdserverpb.KV/Put", packed: EtcdRequestEncoding.put(key: key, value: value),
                               placeholders: [key])
    }

    static func range(keySize: Int, rangeEnd: [UInt8], serializable: Bool) -> RequestTemplate {
        var options = RangeOptions()
        options.serializable = serializable
        options.rangeEnd = rangeEnd
        let key = placeholder(keySize, 0)
        return RequestTemplate(path: "/etcdserverpb.KV/Range", packed: EtcdRequestEncoding.range(key: key, options: options),
                               placeholders: [key])
    }

    /// A fixed key: nothing to patch.
    static func range(key: [UInt8], rangeEnd: [UInt8], serializable: Bool) -> RequestTemplate {
        var options = RangeOptions()
        options.serializable = serializable
        options.rangeEnd = rangeEnd
        return RequestTemplate(path: "/etcdserverpb.KV/Range", packed: EtcdRequestEncoding.range(key: key, options: options),
                               placeholders: [])
    }

    /// A Txn with no comparisons whose success branch puts `ops` distinct keys.
    static func txnPut(keySize: Int, valueSize: Int, ops: Int, seed: UInt64) -> RequestTemplate {
        let value = randomValue(valueSize, seed: seed)
        let keys = (0..<ops).map { placeholder(keySize, $0) }
        var txn = Txn()
        for key in keys { txn = txn.then(.put(key, value)) }
        return RequestTemplate(path: "/etcdserverpb.KV/Txn", packed: EtcdRequestEncoding.txn(txn), placeholders: keys)
    }

    /// Random value bytes like etcd's benchmark; the same value for every request.
    private static func randomValue(_ size: Int, seed: UInt64) -> [UInt8] {
        var random = SplitMix64(seed: seed ^ 0x5eed)
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    /// A key that cannot occur by chance in the packed request: 0xfe bytes ending in the op number.
    private static func placeholder(_ size: Int, _ index: Int) -> [UInt8] {
        precondition(size >= 2 && index < 256, "placeholder keys need 2 bytes and at most 256 ops")
        return [UInt8](repeating: 0xfe, count: size - 1) + [UInt8(index)]
    }

    private init(path: String, packed: [UInt8], placeholders: [[UInt8]]) {
        var offsets: [Int] = []
        for key in placeholders {
            let matches = (0...(packed.count - key.count)).filter { packed[$0..<$0 + key.count].elementsEqual(key) }
            precondition(matches.count == 1, "placeholder key found \(matches.count) times in the packed request")
            offsets.append(5 + matches[0])
        }
        var framed = ByteBuffer()
        framed.reserveCapacity(5 + packed.count)
        framed.writeInteger(UInt8(0))
        framed.writeInteger(UInt32(packed.count))
        framed.writeBytes(packed)
        self.path = path
        self.framed = framed
        self.keyOffsets = offsets
        self.keySize = placeholders.first?.count ?? 0
    }
}
