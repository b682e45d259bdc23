/// Log-linear latency histogram in microseconds: exact below 64 µs, then 32 buckets per power
/// of two (about 3% resolution), fixed size, no allocation when recording.
struct LatencyHistogram: Sendable {
    private static let subBits = 5
    private static let subBuckets = 1 << subBits
    /// Up to 2^41 µs (25 days): far beyond any timeout.
    private static let maxExponent = 41
    static let bucketCount = subBuckets + (maxExponent - subBits) * subBuckets

    private(set) var counts: [UInt64]
    private(set) var count: UInt64 = 0
    private(set) var maxMicros: UInt64 = 0
    private(set) var sumMicros: UInt64 = 0

    init() { counts = [UInt64](repeating: 0, count: Self.bucketCount) }

    @inline(__always)
    static func bucket(_ micros: UInt64) -> Int {
        if micros < UInt64(subBuckets) { return Int(micros) }
        let msb = 63 - micros.leadingZeroBitCount
        let shift = msb - subBits
        let index = subBuckets + shift * subBuckets + Int((micros >> UInt64(shift)) & UInt64(subBuckets - 1))
        return min(index, bucketCount - 1)
    }

    /// Upper edge of a bucket, in µs: percentiles are reported conservatively.
    static func upperBound(_ bucket: Int) -> UInt64 {
        if bucket < subBuckets { return UInt64(bucket) }
        let shift = (bucket - subBuckets) / subBuckets
        let sub = UInt64((bucket - subBuckets) % subBuckets)
        return ((UInt64(subBuckets) + sub + 1) << UInt64(shift)) - 1
    }

    @inline(__always)
    mutating func record(micros: UInt64) {
        counts[Self.bucket(micros)] &+= 1
        count &+= 1
        sumMicros &+= micros
        if micros > maxMicros { maxMicros = micros }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        count &+= other.count
        sumMicros &+= other.sumMicros
        maxMicros = max(maxMicros, other.maxMicros)
    }

    /// The latency at quantile `q` (0...1) in µs, 0 when empty.
    func percentile(_ q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, n) in counts.enumerated() where n > 0 {
            seen += n
            if seen >= rank { return min(Self.upperBound(index), maxMicros) }
        }
        return maxMicros
    }

    var meanMicros: Double { count == 0 ? 0 : Double(sumMicros) / Double(count) }
}
