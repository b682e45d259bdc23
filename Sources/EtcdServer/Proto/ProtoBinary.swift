import CProtobufC

/// Reading protobuf-c `bytes` fields from Swift.
extension ProtobufCBinaryData {
    /// A copy of the bytes.
    public var bytes: [UInt8] {
        guard len > 0, let data else { return [] }
        return [UInt8](UnsafeBufferPointer(start: data, count: len))
    }

    /// The bytes in place, without copying; valid only inside `body` and while the message
    /// holding them lives.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        guard len > 0, let data else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: data, count: len))
    }

    /// Whether the field holds exactly `other`, without copying.
    public func equals<C: Collection>(_ other: C) -> Bool where C.Element == UInt8 {
        withUnsafeBytes { $0.elementsEqual(other) }
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
