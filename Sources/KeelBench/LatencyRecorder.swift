import Histogram
import Synchronization

/// Latencies in microseconds, in an HdrHistogram with 3 significant digits (0.1% resolution).
typealias LatencyHistogram = Histogram<UInt64>

enum LatencyRecorder {
    /// Longest latency tracked exactly; slower answers are recorded as this.
    static let maxMicros: UInt64 = 60_000_000

    static func makeHistogram() -> LatencyHistogram {
        LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: maxMicros, numberOfSignificantValueDigits: .three)
    }

    @inline(__always)
    static func record(_ micros: UInt64, in histogram: inout LatencyHistogram) {
        _ = histogram.record(min(max(micros, 1), maxMicros))
    }
}

/// Requests completed so far, for the progress bar: one relaxed atomic add per request, and only
/// when a bar is shown.
final class ProgressCounter: Sendable {
    let total: Int
    private let done = Atomic<Int>(0)

    init(total: Int) { self.total = total }

    @inline(__always)
    func add(_ count: Int = 1) { done.wrappingAdd(count, ordering: .relaxed) }

    var completed: Int { done.load(ordering: .relaxed) }
}
