/// Our compact binary format for a KeyValue in the `key` bucket:
///   u8 format version (1) | i64 create | i64 mod | i64 version | i64 lease (little-endian)
///   | u32 key length | key bytes | value bytes (the rest)
/// Tombstones store only the key (revisions zero), like etcd's `KeyValue{Key: key}`.
enum KeyValueCodec {
    static let formatVersion: UInt8 = 1
    static let headerLength = 1 + 8 * 4 + 4

    static func encode(_ kv: KeyValue) -> [UInt8] {
        precondition(kv.key.count <= Int(UInt32.max), "key too large")
        var out = [UInt8]()
        out.reserveCapacity(headerLength + kv.key.count + kv.value.count)
        out.append(formatVersion)
        for field in [kv.createRevision, kv.modRevision, kv.version, kv.lease] {
            withUnsafeBytes(of: field.littleEndian) { out.append(contentsOf: $0) }
        }
        withUnsafeBytes(of: UInt32(kv.key.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: kv.key)
        out.append(contentsOf: kv.value)
        return out
    }

    /// Decodes a stored value. `withValue: false` skips copying the value (keys_only, compares).
    static func decode(_ bytes: UnsafeRawBufferPointer, withValue: Bool = true) -> KeyValue? {
        guard bytes.count >= headerLength, bytes[0] == formatVersion else { return nil }
        func i64(_ at: Int) -> Int64 {
            Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self))
        }
        let keyLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 33, as: UInt32.self)))
        guard headerLength + keyLength <= bytes.count else { return nil }
        let keyStart = headerLength
        let valueStart = keyStart + keyLength
        return KeyValue(
            key: Array(bytes[keyStart..<valueStart]),
            createRevision: i64(1), modRevision: i64(9), version: i64(17),
            value: withValue ? Array(bytes[valueStart...]) : [],
            lease: i64(25))
    }
}
