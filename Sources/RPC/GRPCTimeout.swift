import NIOCore

/// `grpc-timeout`: at most 8 ASCII digits and a unit (H, M, S, m, u, n).
public enum GRPCTimeout {
    public static func parse(_ value: String) -> TimeAmount? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9, let unit = utf8.last else { return nil }
        var amount: Int64 = 0
        for digit in utf8.dropLast() {
            guard digit >= 0x30, digit <= 0x39 else { return nil }
            amount = amount * 10 + Int64(digit - 0x30)
        }
        switch unit {
        case UInt8(ascii: "H"): return .hours(amount)
        case UInt8(ascii: "M"): return .minutes(amount)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The header value for a timeout, in the coarsest unit that keeps it within 8 digits.
    public static func encode(_ amount: TimeAmount) -> String {
        let ns = max(amount.nanoseconds, 0)
        if ns < 100_000_000 { return "\(ns)n" }
        if ns / 1_000 < 100_000_000 { return "\(ns / 1_000)u" }
        if ns / 1_000_000 < 100_000_000 { return "\(ns / 1_000_000)m" }
        return "\(min(ns / 1_000_000_000, 99_999_999))S"
    }
}
