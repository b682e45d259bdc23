import CProtobufC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns every C allocation made while building one protobuf-c message tree (nested message
/// structs, pointer arrays for repeated fields, copies of bytes and strings) and frees them all
/// at once.
///
/// protobuf-c messages hold raw pointers, so a response tree must outlive the `pack` call and
/// then go away in one piece. The arena bump-allocates from fixed-size chunks, so building a
/// response costs a handful of `malloc`s however many fields it has, and `reset()` keeps the
/// first chunk, so an arena reused per connection or event loop allocates nothing in the steady
/// state. Allocations larger than a quarter chunk get their own block so they do not waste the
/// rest of a chunk.
///
/// Not Sendable: an arena belongs to the one task or event loop building the message.
public final class ProtoArena {
    /// Bytes per chunk; fixed at init.
    public let chunkBytes: Int
    /// Upper bound on bytes held at once. Exceeding it is a caller bug: the server bounds
    /// request and response sizes before building messages.
    public let limitBytes: Int

    /// Every block we own; index 0 is the first chunk, kept across `reset()`.
    private var blocks: [UnsafeMutableRawPointer] = []
    /// Bump cursor inside the current chunk and the bytes left after it.
    private var cursor: UnsafeMutableRawPointer? = nil
    private var remaining: Int = 0
    /// Whether the cursor is still in blocks[0], so `reset()` re-zeroes only what was used.
    private var cursorInFirstChunk = false
    /// Bytes held by `blocks`.
    public private(set) var heldBytes: Int = 0

    /// Largest alignment we hand out; covers every protobuf-c field type, and malloc returns
    /// at least this on the 64-bit platforms we build for.
    private static let maxAlignment = 16

    public init(chunkBytes: Int = 16 * 1024, limitBytes: Int = 1 << 31) {
        precondition(chunkBytes >= 256 && chunkBytes % Self.maxAlignment == 0, "chunk size")
        precondition(limitBytes >= chunkBytes, "limit below one chunk")
        self.chunkBytes = chunkBytes
        self.limitBytes = limitBytes
    }

    deinit {
        for block in blocks { free(block) }
    }

    /// Frees everything but the first chunk, which is re-zeroed and kept for the next message.
    /// Every pointer handed out before becomes invalid.
    public func reset() {
        guard let first = blocks.first else { return }
        let usedInFirst = cursorInFirstChunk ? chunkBytes - remaining : chunkBytes
        for block in blocks.dropFirst() { free(block) }
        blocks.removeSubrange(1...)
        heldBytes = chunkBytes
        memset(first, 0, usedInFirst)
        cursor = first
        remaining = chunkBytes
        cursorInFirstChunk = true
    }

    /// `byteCount` zeroed bytes aligned to `alignment`, valid until `reset()` or deinit.
    public func allocateBytes(_ byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        precondition(byteCount >= 0, "negative allocation")
        precondition(alignment > 0 && alignment <= Self.maxAlignment && alignment & (alignment - 1) == 0,
                     "alignment must be a power of two up to 16")
        let size = max(byteCount, 1)
        if blocks.isEmpty {
            startChunk() // blocks[0] is always a regular chunk, never a big block
        }
        if size > chunkBytes / 4 {
            return newBlock(size) // big: a block of its own, keep the current chunk's tail
        }
        let at = cursor!
        let padding = (alignment - Int(bitPattern: at) % alignment) % alignment
        if padding + size <= remaining {
            cursor = at + padding + size
            remaining -= padding + size
            return at + padding
        }
        startChunk()
        let result = cursor!
        cursor = result + size
        remaining -= size
        return result
    }

    /// Room for `count` zeroed values of `T`. Zero bytes are not a valid protobuf-c message:
    /// use `message(_:)` for message structs.
    public func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        precondition(count >= 0, "negative count")
        let raw = allocateBytes(MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A message struct initialised by its generated `…__init` function, e.g.
    /// `arena.message(mvccpb__key_value__init)`.
    public func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self)
        initialize(pointer)
        return pointer
    }

    /// The `T **` array behind a repeated message field (`n_x` is set by the caller).
    public func pointerArray<T>(of type: T.Type, count: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        allocate(UnsafeMutablePointer<T>?.self, count: count)
    }

    /// A copy of `bytes` for a `bytes` field. Empty input gives `{0, NULL}`, protobuf-c's default.
    public func binary<C: Collection>(_ bytes: C) -> ProtobufCBinaryData where C.Element == UInt8 {
        let count = bytes.count
        guard count > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
        let destination = allocate(UInt8.self, count: count)
        let copied = UnsafeMutableBufferPointer(start: destination, count: count).initialize(from: bytes).1
        assert(copied == count)
        return ProtobufCBinaryData(len: count, data: destination)
    }

    /// A NUL-terminated copy of `string` for a `string` field.
    public func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let destination = allocate(CChar.self, count: utf8.count + 1) // zeroed: NUL included
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: utf8.count)
            }
            return destination
        }
    }

    private func startChunk() {
        let chunk = newBlock(chunkBytes)
        assert(Int(bitPattern: chunk) % Self.maxAlignment == 0, "malloc alignment below 16")
        cursor = chunk
        remaining = chunkBytes
        cursorInFirstChunk = blocks.count == 1
    }

    private func newBlock(_ size: Int) -> UnsafeMutableRawPointer {
        precondition(heldBytes + size <= limitBytes, "ProtoArena limit of \(limitBytes) bytes exceeded")
        guard let block = calloc(1, size) else { fatalError("ProtoArena: out of memory") }
        blocks.append(block)
        heldBytes += size
        return block
    }
}

@available(*, unavailable, message: "an arena belongs to one task or event loop")
extension ProtoArena: Sendable {}
