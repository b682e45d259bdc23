/// Benchmark keys: the key index in lower-case hex, left-padded with '0' to the key size, so
/// every key has the same length and a request template can be patched in place.
enum KeyFormat {
    /// Hex digits needed to write every index below `keySpace`.
    static func digitsNeeded(keySpace: Int) -> Int {
        precondition(keySpace >= 1)
        let largest = UInt64(keySpace - 1)
        return max(1, (64 - largest.leadingZeroBitCount + 3) / 4)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `index` into `destination` (exactly the key size), right-aligned, zero-padded.
    @inline(__always)
    static func write(_ index: Int, into destination: UnsafeMutableRawBufferPointer) {
        var value = UInt64(index)
        var position = destination.count
        while position > 0 {
            position -= 1
            destination[position] = hexDigits[Int(value & 0xf)]
            value >>= 4
        }
        assert(value == 0, "key index does not fit the key size")
    }

    static func key(_ index: Int, size: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            write(index, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = size
        }
    }
}

/// SplitMix64: a tiny, fast, seedable generator, one per client so no state is shared.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, bound) (bias below 2^-32 for the bounds we use).
    @inline(__always)
    mutating func next(below bound: Int) -> Int {
        Int(((next() >> 32) &* UInt64(bound)) >> 32)
    }
}
