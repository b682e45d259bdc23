#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a run, printed like etcd's `benchmark` (summary, histogram, latency
/// distribution) or as one JSON line for scripts.
struct BenchReport: Sendable {
    /// What ran, e.g. "put", "range", "txn-put", "watch", "watch-latency", "lease-keepalive".
    let op: String
    let conns: Int
    let clients: Int
    let seconds: Double
    let histogram: LatencyHistogram
    let errors: Int
    let firstError: String?
    /// Fields only some runs have (key and value sizes, consistency, ...), for the JSON line.
    var details: [(String, String)] = []
    /// User + system CPU this process spent (connecting included), so scripts can tell the
    /// generator's share of the cores from the server's.
    var cpuSeconds: Double = BenchReport.processCPUSeconds()
    /// `watch` only: what the watchers received while the puts ran.
    var watch: WatchSummary?
    var watchShape: (streams: Int, perStream: Int, conns: Int) = (0, 0, 0)

    init(op: String, conns: Int, clients: Int, seconds: Double, histogram: LatencyHistogram, errors: Int,
         firstError: String?) {
        self.op = op
        self.conns = conns
        self.clients = clients
        self.seconds = seconds
        self.histogram = histogram
        self.errors = errors
        self.firstError = firstError
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return 0 }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    var successes: Int { Int(histogram.totalCount) }
    var completed: Int { successes + errors }
    var requestsPerSecond: Double { seconds > 0 ? Double(successes) / seconds : 0 }

    private func percentileMicros(_ p: Double) -> UInt64 { successes == 0 ? 0 : histogram.valueAtPercentile(p) }
    private func ms(_ micros: UInt64) -> String { format(Double(micros) / 1000, decimals: 3) }
    private func secs(_ micros: Double) -> String { format(micros / 1e6, decimals: 4) }

    static let percentiles: [Double] = [10, 25, 50, 75, 90, 95, 99, 99.9]

    var text: String {
        var lines = ["", "Summary:"]
        lines.append("  Total:\t\(format(seconds, decimals: 4)) secs.")
        if successes > 0 {
            lines.append("  Slowest:\t\(secs(Double(histogram.max))) secs.")
            lines.append("  Fastest:\t\(secs(Double(histogram.min))) secs.")
            lines.append("  Average:\t\(secs(histogram.mean)) secs.")
            lines.append("  Stddev:\t\(secs(histogram.stdDeviation)) secs.")
        }
        lines.append("  Requests/sec:\t\(format(requestsPerSecond, decimals: 4))")
        lines.append("")
        lines += histogramLines
        lines.append("")
        lines.append("Latency distribution:")
        for p in Self.percentiles {
            lines.append("  \(p == 99.9 ? "99.9" : String(Int(p)))% in \(secs(Double(percentileMicros(p)))) secs.")
        }
        lines.append("")
        lines.append("\(op): \(conns) conns, \(clients) clients, \(completed) requests, \(errors) errors"
                     + (firstError.map { " (first: \($0))" } ?? ""))
        lines.append("  p50 \(ms(percentileMicros(50))) ms  p90 \(ms(percentileMicros(90))) ms  p99 \(ms(percentileMicros(99))) ms"
                     + "  p99.9 \(ms(percentileMicros(99.9))) ms")
        if let watch {
            lines.append("  watchers      \(watch.watchers) (\(watchShape.streams) streams x \(watchShape.perStream), \(watchShape.conns) conns),"
                         + " created in \(format(watch.createSeconds, decimals: 3)) s")
            lines.append("  events        \(watch.events) of \(watch.expected) expected in \(watch.responses) responses,"
                         + " \(format(watch.seconds, decimals: 3)) s from the first put to the last event")
            lines.append("  events/sec    \(format(watch.eventsPerSecond, decimals: 1))  (all arrived: \(watch.complete ? "yes" : "NO"))")
            lines.append("  watch errors  \(watch.errors)\(watch.firstError.map { " (first: \($0))" } ?? "")")
        }
        lines.append("  cpu           \(format(cpuSeconds, decimals: 3)) s (keel-bench itself, user + system)")
        return lines.joined(separator: "\n")
    }

    /// etcd's "Response time histogram": ten equal buckets from the fastest to the slowest answer.
    private var histogramLines: [String] {
        var lines = ["Response time histogram:"]
        guard successes > 0 else { return lines }
        let low = Double(histogram.min), high = Double(histogram.max)
        let step = max((high - low) / 10, 1)
        var counts = [UInt64](repeating: 0, count: 11)
        for value in histogram.recordedValues() {
            let index = min(10, Int((Double(value.value) - low) / step))
            counts[max(0, index)] += UInt64(value.count)
        }
        let most = max(counts.max() ?? 1, 1)
        for (i, count) in counts.enumerated() {
            let bar = String(repeating: "∎", count: Int(count * 40 / most))
            lines.append("  \(secs(low + Double(i) * step)) [\(count)]\t|\(bar)")
        }
        return lines
    }

    var json: String {
        var fields: [(String, String)] = [
            ("op", quoted(op)),
            ("conns", "\(conns)"), ("clients", "\(clients)"),
            ("total", "\(completed)"),
            ("seconds", format(seconds, decimals: 4)),
            ("requests_per_sec", format(requestsPerSecond, decimals: 1)),
            ("errors", "\(errors)"),
            ("p50_ms", ms(percentileMicros(50))), ("p90_ms", ms(percentileMicros(90))),
            ("p99_ms", ms(percentileMicros(99))), ("p999_ms", ms(percentileMicros(99.9))),
            ("mean_ms", format(successes == 0 ? 0 : histogram.mean / 1000, decimals: 3)),
            ("max_ms", ms(successes == 0 ? 0 : histogram.max)),
            ("cpu_s", format(cpuSeconds, decimals: 3)),
            ("first_error", firstError.map(quoted) ?? "null"),
        ]
        fields += details
        fields.append(("histogram_ms", "[" + Self.percentiles.map { "[\($0),\(ms(percentileMicros($0)))]" }.joined(separator: ",") + "]"))
        if let w = watch {
            fields += [
                ("streams", "\(watchShape.streams)"), ("watchers", "\(w.watchers)"),
                ("create_seconds", format(w.createSeconds, decimals: 4)),
                ("events", "\(w.events)"), ("events_expected", "\(w.expected)"), ("responses", "\(w.responses)"),
                ("events_seconds", format(w.seconds, decimals: 4)),
                ("events_per_sec", format(w.eventsPerSecond, decimals: 1)),
                ("events_complete", w.complete ? "true" : "false"), ("watch_errors", "\(w.errors)"),
                ("watch_first_error", w.firstError.map(quoted) ?? "null"),
            ]
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// What the watchers of a `watch` run received.
struct WatchSummary: Sendable {
    var watchers = 0
    var createSeconds = 0.0
    var events = 0
    var expected = 0
    var responses = 0
    /// From the first put to the last event received.
    var seconds = 0.0
    var complete = false
    var errors = 0
    var firstError: String?
    var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
}

/// Fixed-point formatting without Foundation.
func format(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((abs(value) * scale).rounded())
    let whole = scaled / Int64(scale)
    guard decimals > 0 else { return (value < 0 ? "-" : "") + "\(whole)" }
    var fraction = String(scaled % Int64(scale))
    fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
    return (value < 0 ? "-" : "") + "\(whole)." + fraction
}
