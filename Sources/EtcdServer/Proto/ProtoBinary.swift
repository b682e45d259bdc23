import CProtobufC

/// Reading protobuf-c `bytes` fields from Swift. Free functions rather than an extension on
/// `ProtobufCBinaryData`: the C type is seen through more than one Clang module (CProtobufC and the
/// generated EtcdProto headers), and an extension is only visible where the same one is imported.
public enum ProtoBytes {
    /// A copy of the bytes.
    @inline(__always)
    public static func copy(_ field: ProtobufCBinaryData) -> [UInt8] {
        guard field.len > 0, let data = field.data else { return [] }
        return [UInt8](UnsafeBufferPointer(start: data, count: field.len))
    }

    /// The bytes in place, without copying; valid only inside `body` and while the message
    /// holding them lives.
    public static func withUnsafeBytes<R>(_ field: ProtobufCBinaryData, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard field.len > 0, let data = field.data else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: data, count: field.len))
    }

    /// Whether the field holds exactly `other`, without copying.
    public static func equals<C: Collection>(_ field: ProtobufCBinaryData, _ other: C) -> Bool where C.Element == UInt8 {
        withUnsafeBytes(field) { $0.elementsEqual(other) }
    }
}

/// Reading protobuf-c repeated fields (`n_x` + `T **`) from Swift.
public enum ProtoRepeated {
    /// The elements of a repeated message field as a buffer of non-optional pointers. protobuf-c
    /// never stores NULL in a decoded repeated message field; we assert that.
    public static func messages<T>(
        _ items: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, count: Int
    ) -> UnsafeBufferPointer<UnsafeMutablePointer<T>?> {
        guard count > 0, let items else { return UnsafeBufferPointer(start: nil, count: 0) }
        let buffer = UnsafeBufferPointer(start: items, count: count)
        assert(buffer.allSatisfy { $0 != nil }, "NULL element in a repeated message field")
        return buffer
    }
}
