import CProtobufC

/// Packing and unpacking of protobuf-c messages from Swift.
///
/// Generated structs all start with a `ProtobufCMessage` whose descriptor names the type; these
/// helpers are generic over the struct and check, before touching C, that the struct really is
/// an initialised message of the size its descriptor states (a zeroed struct has no descriptor
/// and would pack garbage).
public enum ProtoCodec {
    /// Largest message we pack or unpack: protobuf-c sizes are `size_t` but the gRPC length
    /// prefix is 32 bits and etcd never accepts more than that.
    public static let maxMessageBytes = Int(UInt32.max)

    /// Size of `message` once packed.
    public static func packedSize<M>(_ message: UnsafePointer<M>) -> Int {
        let base = checkedBase(message)
        let size = protobuf_c_message_get_packed_size(base)
        precondition(size <= maxMessageBytes, "message too large to pack")
        return size
    }

    /// `message` packed into a new array of exactly its size.
    public static func packed<M>(_ message: UnsafePointer<M>) -> [UInt8] {
        let size = packedSize(message)
        guard size > 0 else { return [] }
        let base = checkedBase(message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            let written = protobuf_c_message_pack(base, buffer.baseAddress!)
            precondition(written == size, "protobuf-c packed a different size than it measured")
            initialized = written
        }
    }

    /// Appends `message` packed to `buffer` (e.g. after a gRPC frame prefix), reusing its
    /// capacity; returns the number of bytes appended.
    @discardableResult
    public static func append<M>(_ message: UnsafePointer<M>, to buffer: inout [UInt8]) -> Int {
        let size = packedSize(message)
        guard size > 0 else { return 0 }
        let base = checkedBase(message)
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: size))
        buffer.withUnsafeMutableBufferPointer { all in
            let written = protobuf_c_message_pack(base, all.baseAddress! + start)
            precondition(written == size, "protobuf-c packed a different size than it measured")
        }
        return size
    }

    /// The descriptor of the message type a generated `…__init` function initialises, e.g.
    /// `ProtoCodec.descriptor(of: etcdserverpb__put_request__init)`. Read from an initialised
    /// struct because that is the C global's own address; `withUnsafePointer(to:)` on an
    /// imported global may hand out a temporary copy, which must never end up in a message.
    public static func descriptor<T>(
        of initialize: (UnsafeMutablePointer<T>) -> Void
    ) -> UnsafePointer<ProtobufCMessageDescriptor> {
        withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { scratch in
            let pointer = scratch.baseAddress!
            initialize(pointer)
            let base = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
            guard let descriptor = base.pointee.descriptor else {
                preconditionFailure("initializer left no descriptor")
            }
            checkDescriptor(descriptor, for: T.self)
            return descriptor
        }
    }

    /// Decodes `bytes` as a `T` described by `descriptor`, or nil if they are not a valid
    /// encoding. The CALLER OWNS the result and must release it exactly once with
    /// `freeUnpacked(_:)`; prefer `UnpackedMessage`, which does that itself.
    public static func unpack<T>(
        _ type: T.Type,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        bytes: UnsafeRawBufferPointer
    ) -> UnsafeMutablePointer<T>? {
        checkDescriptor(descriptor, for: T.self)
        guard bytes.count <= maxMessageBytes else { return nil }
        // protobuf-c never reads through a NULL data pointer when len is 0, but keep it valid.
        var empty: UInt8 = 0
        let message: UnsafeMutablePointer<ProtobufCMessage>? = withUnsafePointer(to: &empty) { fallback in
            let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback
            return protobuf_c_message_unpack(descriptor, nil, bytes.count, data)
        }
        return message.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: T.self) }
    }

    /// `unpack` over an array.
    public static func unpack<T>(
        _ type: T.Type,
        descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
        bytes: [UInt8]
    ) -> UnsafeMutablePointer<T>? {
        bytes.withUnsafeBytes { unpack(type, descriptor: descriptor, bytes: $0) }
    }

    /// Releases a message returned by `unpack` (the whole tree protobuf-c allocated for it).
    public static func freeUnpacked<T>(_ message: UnsafeMutablePointer<T>) {
        protobuf_c_message_free_unpacked(
            UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self), nil)
    }

    /// The `ProtobufCMessage` header of a generated struct, after checking it is initialised.
    static func checkedBase<M>(_ message: UnsafePointer<M>) -> UnsafePointer<ProtobufCMessage> {
        precondition(MemoryLayout<M>.size >= MemoryLayout<ProtobufCMessage>.size, "not a protobuf-c message")
        let base = UnsafeRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
        guard let descriptor = base.pointee.descriptor else {
            preconditionFailure("protobuf-c message not initialised: call its generated …__init first")
        }
        checkDescriptor(descriptor, for: M.self)
        return base
    }

    static func checkDescriptor<M>(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, for _: M.Type) {
        precondition(descriptor.pointee.magic == UInt32(PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC),
                     "not a protobuf-c message descriptor")
        precondition(descriptor.pointee.sizeof_message == MemoryLayout<M>.size,
                     "descriptor does not describe \(M.self)")
    }
}
