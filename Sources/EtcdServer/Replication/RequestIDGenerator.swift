import Atomics
import Foundation

/// Request ids as etcd's idutil makes them: the low 16 bits of the member id in the top 16 bits, then
/// the start time in milliseconds (40 bits) shifted left by 8, plus a counter added to the low 48 bits.
/// Unique across members (different prefixes) and across restarts of one member (the time moves on
/// faster than one member can issue 256 requests per millisecond for long), and the counter can never
/// carry into the member bits.
final class RequestIDGenerator: Sendable {
    private let prefix: UInt64
    private let suffix: ManagedAtomic<UInt64>
    private static let suffixBits: UInt64 = 48
    private static let suffixMask: UInt64 = (1 << suffixBits) - 1

    init(memberID: UInt64, now: Date = Date()) {
        prefix = (memberID & 0xFFFF) << Self.suffixBits
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        suffix = ManagedAtomic((millis & ((1 << 40) - 1)) << 8)
    }

    func next() -> UInt64 {
        let s = suffix.wrappingIncrementThenLoad(ordering: .relaxed)
        return prefix | (s & Self.suffixMask)
    }
}
