#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a run, printed for people or as one JSON line for scripts.
struct BenchReport: Sendable {
    let options: BenchOptions
    let seconds: Double
    let histogram: LatencyHistogram
    let errors: Int
    let firstError: String?
    /// User + system CPU this process spent (connecting included), so scripts can tell the
    /// generator's share of the cores from the server's.
    var cpuSeconds: Double = BenchReport.processCPUSeconds()
    /// `watch` only: what the watchers received while the puts ran.
    var watch: WatchSummary?

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

    var completed: Int { Int(histogram.count) + errors }
    var requestsPerSecond: Double { seconds > 0 ? Double(histogram.count) / seconds : 0 }

    private func millis(_ micros: UInt64) -> String { format(Double(micros) / 1000, decimals: 3) }

    var text: String {
        var lines: [String] = []
        let what = options.operation != .range
            ? "\(options.operation == .watch ? "watch + " : "")put: key \(options.keySize) B, value \(options.valueSize) B, key space \(options.keySpace)"
            : "range (\(options.serializable ? "serializable" : "linearizable")): key \(options.fixedKey?.count ?? options.keySize) B"
        lines.append(what)
        lines.append("  \(options.conns) conns, \(options.clients) clients, \(completed) requests in \(format(seconds, decimals: 3)) s")
        lines.append("  requests/sec  \(format(requestsPerSecond, decimals: 1))")
        lines.append("  errors        \(errors)\(firstError.map { " (first: \($0))" } ?? "")")
        lines.append("  latency ms    p50 \(millis(histogram.percentile(0.5)))  p90 \(millis(histogram.percentile(0.9)))"
                     + "  p99 \(millis(histogram.percentile(0.99)))  max \(millis(histogram.maxMicros))"
                     + "  mean \(format(histogram.meanMicros / 1000, decimals: 3))")
        if let watch {
            lines.append("  watchers      \(watch.watchers) (\(options.streams) streams x \(options.watchersPerStream), \(options.watchConns) conns),"
                         + " created in \(format(watch.createSeconds, decimals: 3)) s")
            lines.append("  events        \(watch.events) of \(watch.expected) expected in \(watch.responses) responses,"
                         + " \(format(watch.seconds, decimals: 3)) s from the first put to the last event")
            lines.append("  events/sec    \(format(watch.eventsPerSecond, decimals: 1))  (all arrived: \(watch.complete ? "yes" : "NO"))")
            lines.append("  watch errors  \(watch.errors)\(watch.firstError.map { " (first: \($0))" } ?? "")")
        }
        lines.append("  cpu           \(format(cpuSeconds, decimals: 3)) s (keel-bench itself, user + system)")
        return lines.joined(separator: "\n")
    }

    var json: String {
        let fields: [(String, String)] = [
            ("op", quoted(options.operation.rawValue)),
            ("consistency", quoted(options.serializable ? "s" : "l")),
            ("conns", "\(options.conns)"), ("clients", "\(options.clients)"),
            ("total", "\(completed)"), ("key_size", "\(options.keySize)"), ("val_size", "\(options.valueSize)"),
            ("seconds", format(seconds, decimals: 4)),
            ("requests_per_sec", format(requestsPerSecond, decimals: 1)),
            ("errors", "\(errors)"),
            ("p50_ms", millis(histogram.percentile(0.5))), ("p90_ms", millis(histogram.percentile(0.9))),
            ("p99_ms", millis(histogram.percentile(0.99))), ("max_ms", millis(histogram.maxMicros)),
            ("cpu_s", format(cpuSeconds, decimals: 3)),
            ("first_error", firstError.map(quoted) ?? "null"),
        ] + (watch.map { w in [
            ("streams", "\(options.streams)"), ("watchers", "\(w.watchers)"),
            ("create_seconds", format(w.createSeconds, decimals: 4)),
            ("events", "\(w.events)"), ("events_expected", "\(w.expected)"), ("responses", "\(w.responses)"),
            ("events_seconds", format(w.seconds, decimals: 4)),
            ("events_per_sec", format(w.eventsPerSecond, decimals: 1)),
            ("events_complete", w.complete ? "true" : "false"), ("watch_errors", "\(w.errors)"),
            ("watch_first_error", w.firstError.map(quoted) ?? "null"),
        ] } ?? [])
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
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
