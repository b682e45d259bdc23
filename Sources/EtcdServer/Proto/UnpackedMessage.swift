import CProtobufC

/// Sole owner of a message decoded by protobuf-c: frees the whole tree when it goes away.
/// Noncopyable so ownership is explicit and the tree is freed exactly once; pointers read
/// through `pointer` (nested messages, bytes) are valid only while this value lives.
public struct UnpackedMessage<T>: ~Copyable {
    public let pointer: UnsafeMutablePointer<T>

    /// Decodes `bytes`, or nil if they are not a valid encoding of the message `descriptor` names.
    public init?(_ type: T.Type, descriptor: UnsafePointer<ProtobufCMessageDescriptor>, bytes: UnsafeRawBufferPointer) {
        guard let pointer = ProtoCodec.unpack(type, descriptor: descriptor, bytes: bytes) else { return nil }
        self.pointer = pointer
    }

    public init?(_ type: T.Type, descriptor: UnsafePointer<ProtobufCMessageDescriptor>, bytes: [UInt8]) {
        guard let pointer = ProtoCodec.unpack(type, descriptor: descriptor, bytes: bytes) else { return nil }
        self.pointer = pointer
    }

    /// Decodes `bytes` as the message type `initialize` (its generated `…__init`) belongs to,
    /// e.g. `UnpackedMessage(etcdserverpb__put_request__init, bytes: frame)`. Resolving the
    /// descriptor costs one struct initialisation; cache it with `ProtoCodec.descriptor(of:)`
    /// on hot paths.
    public init?(_ initialize: (UnsafeMutablePointer<T>) -> Void, bytes: UnsafeRawBufferPointer) {
        self.init(T.self, descriptor: ProtoCodec.descriptor(of: initialize), bytes: bytes)
    }

    public init?(_ initialize: (UnsafeMutablePointer<T>) -> Void, bytes: [UInt8]) {
        self.init(T.self, descriptor: ProtoCodec.descriptor(of: initialize), bytes: bytes)
    }

    /// A copy of the top-level struct. Its pointers (nested messages, bytes, strings) point
    /// into the tree this value owns: dereference them only while it is alive, e.g. through a
    /// named binding, never through a temporary such as `UnpackedMessage(…)?.message.kv.pointee`.
    public var message: T { pointer.pointee }

    /// Runs `body` on the decoded message while this value is guaranteed alive; the safe form
    /// when the owner is a temporary or an optional.
    public borrowing func withMessage<R>(_ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        try body(pointer)
    }

    deinit {
        ProtoCodec.freeUnpacked(pointer)
    }
}
