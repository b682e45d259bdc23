import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the C memory behind one request message tree (nested message structs, pointer arrays,
/// copies of bytes and strings) and frees it all when it goes away. protobuf-c messages hold raw
/// pointers, so a request is built inside one builder and packed before the builder is dropped.
/// Not Sendable: one builder per request, on one task.
final class MessageBuilder {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    /// `count` zeroed values of `T`.
    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        precondition(count >= 0, "negative count")
        guard let raw = calloc(max(1, count), MemoryLayout<T>.stride) else { fatalError("out of memory") }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A message struct initialised by its generated `…__init` function.
    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self)
        initialize(pointer)
        return pointer
    }

    /// The `T **` array of a repeated message field, filled from `elements`.
    func pointerArray<T>(_ elements: [UnsafeMutablePointer<T>]) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        guard !elements.isEmpty else { return nil }
        let array = allocate(UnsafeMutablePointer<T>?.self, count: elements.count)
        for (i, element) in elements.enumerated() { array[i] = element }
        return array
    }

    /// A copy of `bytes` for a `bytes` field; empty is `{0, NULL}`, protobuf-c's default.
    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let destination = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: destination)
    }

    /// A NUL-terminated copy of `string` for a `string` field.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(string.utf8)
        let destination = allocate(CChar.self, count: utf8.count + 1)  // zeroed: NUL included
        utf8.withUnsafeBytes { UnsafeMutableRawPointer(destination).copyMemory(from: $0.baseAddress!, byteCount: utf8.count) }
        return destination
    }

    /// The `char **` array of a repeated string field.
    func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        guard !strings.isEmpty else { return nil }
        let array = allocate(UnsafeMutablePointer<CChar>?.self, count: strings.count)
        for (i, s) in strings.enumerated() { array[i] = cString(s) }
        return array
    }
}

/// Packing requests and reading responses through protobuf-c.
enum Proto {
    /// `message` (a generated struct initialised by its `…__init`) packed into bytes.
    static func pack<M>(_ message: UnsafeMutablePointer<M>) -> [UInt8] {
        let base = UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        precondition(base.pointee.descriptor != nil, "message not initialised")
        precondition(base.pointee.descriptor!.pointee.sizeof_message == MemoryLayout<M>.size, "descriptor mismatch")
        let size = protobuf_c_message_get_packed_size(base)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = protobuf_c_message_pack(base, buffer.baseAddress!)
            precondition(count == size, "protobuf-c packed a different size than it measured")
        }
    }

    typealias Unpack<T> = (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<T>?
    typealias Free<T> = (UnsafeMutablePointer<T>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void

    /// Decodes a response with the generated `…__unpack` and hands it to `read`, then frees it.
    static func read<T, R>(_ bytes: [UInt8], _ unpack: Unpack<T>, _ free: Free<T>,
                           _ read: (T) throws -> R) throws -> R {
        var empty: UInt8 = 0
        let message: UnsafeMutablePointer<T>? = bytes.withUnsafeBufferPointer { buffer in
            withUnsafePointer(to: &empty) { fallback in
                unpack(nil, buffer.count, buffer.baseAddress ?? fallback)
            }
        }
        guard let message else { throw EtcdError.malformedResponse("\(T.self) does not decode") }
        defer { free(message, nil) }
        return try read(message.pointee)
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let pointer = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: data.len))
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    static func strings(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int) -> [String] {
        guard let array else { return [] }
        return (0..<count).map { string(array[$0]) }
    }

    /// The non-nil elements of a repeated message field.
    static func elements<T>(_ array: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [T] {
        guard let array else { return [] }
        return (0..<count).compactMap { array[$0]?.pointee }
    }
}
