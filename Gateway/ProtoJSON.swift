// The gateway's proto3-JSON codec, driven by protobuf-c descriptors (no per-message JSON code).
//
// Output follows etcd 3.4's gateway (grpc-gateway v1 + jsonpb, OrigName=true, EmitDefaults=false):
// proto field names, fields in field-number order, defaults omitted (oneof members always shown),
// 64-bit integers as strings, bytes as padded standard base64, enums by name, Go's string escaping.
//
// Input goes JSON -> protobuf wire bytes -> `protobuf_c_message_unpack`. Building the C structs by
// hand would mean writing offsets, `n_x` arrays, `*_case` fields and allocations ourselves; the wire
// path needs only tags and lengths, and protobuf-c's own unpacker (the one the gRPC path already
// trusts) owns the C memory layout and frees it with `protobuf_c_message_free_unpacked`.
import CProtobufC

/// Bounds on hostile input. Every one is checked before the work it bounds is done.
public struct ProtoJSONLimits: Sendable, Equatable {
    /// Largest accepted body. etcd's gRPC limit is 1.5 MiB of protobuf; JSON with base64 is ~4/3 larger.
    public var maxBodyBytes: Int
    /// Deepest nesting of objects and arrays, unknown fields included (bounds the recursion).
    public var maxDepth: Int
    /// Most values (object members plus array elements) in one document.
    public var maxElements: Int

    public init(maxBodyBytes: Int = 4 << 20, maxDepth: Int = 64, maxElements: Int = 1 << 20) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDepth = maxDepth
        self.maxElements = maxElements
    }

    public static let `default` = ProtoJSONLimits()
}

/// Why a body was rejected; the gateway answers 400 with `description`.
public struct ProtoJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case syntax       // not JSON
        case type         // JSON of the wrong kind for the field
        case value        // right kind, bad value (range, base64, enum name)
        case limit        // a ProtoJSONLimits bound
        case unpack       // protobuf bytes protobuf-c refused (encode(bytes:) only)
    }
    public let kind: Kind
    /// Field path such as `compare[0].value`; empty at the top level.
    public let path: String
    public let message: String
    /// Byte offset in the input.
    public let offset: Int

    public var description: String {
        path.isEmpty ? "\(message) at byte \(offset)" : "\"\(path)\": \(message) at byte \(offset)"
    }
}

/// A protobuf-c message allocated by `protobuf_c_message_unpack`; freed when this object goes.
public final class OwnedMessage {
    public let pointer: UnsafeMutablePointer<ProtobufCMessage>

    init(_ pointer: UnsafeMutablePointer<ProtobufCMessage>) { self.pointer = pointer }
    deinit { protobuf_c_message_free_unpacked(pointer, nil) }

    /// The generated struct (it begins with its ProtobufCMessage, so the address is the same).
    /// Valid only while `self` is alive.
    public func typed<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: T.self)
    }

    public var descriptor: UnsafePointer<ProtobufCMessageDescriptor> { pointer.pointee.descriptor }
}

public enum ProtoJSON {
    /// The address of a message's descriptor, taken from its generated `…__init` (Swift imports the
    /// C descriptor globals as values, and a copy must never reach protobuf-c, which keeps it).
    public static func descriptor<T>(of initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafePointer<ProtobufCMessageDescriptor> {
        let storage = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { storage.deallocate() }
        UnsafeMutableRawPointer(storage).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.size)
        initialize(storage)
        return UnsafeRawPointer(storage).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
    }

    // MARK: decode

    /// Parses a JSON object into protobuf wire bytes of `descriptor` (canonical, unpacked repeated).
    /// An empty or whitespace-only body, and `null`, are the empty message (as grpc-gateway treats EOF).
    public static func wireBytes(json: UnsafeRawBufferPointer,
                                 descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                                 limits: ProtoJSONLimits = .default) throws(ProtoJSONError) -> [UInt8] {
        var decoder = JSONToWire(json, limits)
        try decoder.document(descriptor)
        return decoder.out
    }

    public static func wireBytes(json: [UInt8], descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                                 limits: ProtoJSONLimits = .default) throws(ProtoJSONError) -> [UInt8] {
        try withRaw(json) { raw throws(ProtoJSONError) in try wireBytes(json: raw, descriptor: descriptor, limits: limits) }
    }

    /// Parses a sequence of JSON objects (a streaming request body) into one protobuf message each.
    /// Stops at the first malformed one: `failure` says why, `messages` holds those before it.
    public static func wireSequence(json: UnsafeRawBufferPointer, descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                                    limits: ProtoJSONLimits = .default) -> (messages: [[UInt8]], failure: ProtoJSONError?) {
        var messages: [[UInt8]] = []
        var offset = 0
        if json.count > limits.maxBodyBytes {
            return ([], ProtoJSONError(kind: .limit, path: "",
                                       message: "body of \(json.count) bytes exceeds the limit of \(limits.maxBodyBytes)", offset: 0))
        }
        while offset < json.count {
            var decoder = JSONToWire(UnsafeRawBufferPointer(rebasing: json[offset...]), limits)
            do {
                guard let used = try decoder.leadingDocument(descriptor) else { break }
                messages.append(decoder.out)
                offset += used
            } catch {
                return (messages, ProtoJSONError(kind: error.kind, path: error.path, message: error.message,
                                                 offset: offset + error.offset))
            }
        }
        return (messages, nil)
    }

    /// Parses a JSON object into a protobuf-c message of `descriptor`.
    public static func decode(json: UnsafeRawBufferPointer, into descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                              limits: ProtoJSONLimits = .default) throws(ProtoJSONError) -> OwnedMessage {
        let wire = try wireBytes(json: json, descriptor: descriptor, limits: limits)
        return try unpack(wire, descriptor, offset: json.count)
    }

    public static func decode(json: [UInt8], into descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                              limits: ProtoJSONLimits = .default) throws(ProtoJSONError) -> OwnedMessage {
        try withRaw(json) { raw throws(ProtoJSONError) in try decode(json: raw, into: descriptor, limits: limits) }
    }

    // MARK: encode

    /// JSON text of a message as etcd's gateway prints it.
    public static func encode(message: UnsafePointer<ProtobufCMessage>) -> [UInt8] {
        var writer = JSONWriter()
        writer.message(UnsafeRawPointer(message), message.pointee.descriptor)
        return writer.out
    }

    /// JSON text of packed protobuf bytes of `descriptor`.
    public static func encode(bytes: UnsafeRawBufferPointer,
                              descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(ProtoJSONError) -> [UInt8] {
        var zero: UInt8 = 0
        let message = withUnsafePointer(to: &zero) { fallback in
            protobuf_c_message_unpack(descriptor, nil, bytes.count,
                                      bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback)
        }
        guard let message else {
            throw ProtoJSONError(kind: .unpack, path: "", message: "invalid protobuf encoding", offset: 0)
        }
        defer { protobuf_c_message_free_unpacked(message, nil) }
        return encode(message: message)
    }

    public static func encode(bytes: [UInt8],
                              descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(ProtoJSONError) -> [UInt8] {
        try withRaw(bytes) { raw throws(ProtoJSONError) in try encode(bytes: raw, descriptor: descriptor) }
    }

    // MARK: helpers

    static func unpack(_ wire: [UInt8], _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>,
                       offset: Int) throws(ProtoJSONError) -> OwnedMessage {
        var zero: UInt8 = 0
        let message = wire.withUnsafeBufferPointer { buffer in
            withUnsafePointer(to: &zero) { fallback in
                protobuf_c_message_unpack(descriptor, nil, buffer.count, buffer.baseAddress ?? fallback)
            }
        }
        guard let message else {
            // Our wire bytes are well formed, so this is allocation failure or a proto2 required field.
            throw ProtoJSONError(kind: .value, path: "", message: "message could not be built", offset: offset)
        }
        return OwnedMessage(message)
    }

    /// `withUnsafeBytes` that keeps the typed error.
    static func withRaw<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ProtoJSONError) -> R) throws(ProtoJSONError) -> R {
        let result: Result<R, ProtoJSONError> = bytes.withUnsafeBytes { raw in
            Result { () throws(ProtoJSONError) in try body(raw) }
        }
        return try result.get()
    }
}

// MARK: - descriptor access

extension ProtobufCFieldDescriptor {
    var isRepeated: Bool { label == PROTOBUF_C_LABEL_REPEATED }
    var isOneof: Bool { flags & PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue != 0 }
}

/// The field descriptors of a message as a buffer (protoc-c sorts them by field number).
@inline(__always)
func fields(_ d: UnsafePointer<ProtobufCMessageDescriptor>) -> UnsafeBufferPointer<ProtobufCFieldDescriptor> {
    UnsafeBufferPointer(start: d.pointee.fields, count: Int(d.pointee.n_fields))
}
