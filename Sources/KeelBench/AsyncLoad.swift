import KeelClient
import NIOCore
import NIOPosix
import Synchronization

/// Shared bookkeeping of the benchmarks that run on KeelClient's async API (watch-latency,
/// lease-keepalive): a request budget, one histogram, errors. Those measure latencies of
/// milliseconds at modest rates, so a lock per sample is fine.
final class AsyncLoad: Sendable {
    private struct State {
        var budget: Int
        var histogram = LatencyRecorder.makeHistogram()
        var errors = 0
        var firstError: String?
    }
    private let state: Mutex<State>
    let progress: ProgressCounter?

    init(budget: Int, progress: Bool) {
        state = Mutex(State(budget: budget))
        self.progress = progress ? ProgressCounter(total: budget) : nil
    }

    func take() -> Bool {
        state.withLock { s in
            guard s.budget > 0 else { return false }
            s.budget -= 1
            return true
        }
    }

    func record(micros: UInt64) {
        state.withLock { LatencyRecorder.record(micros, in: &$0.histogram) }
        progress?.add()
    }

    func recordError(_ error: Error) {
        state.withLock { s in
            s.errors += 1
            if s.firstError == nil { s.firstError = "\(error)" }
        }
        progress?.add()
    }

    func report(op: String, conns: Int, clients: Int, seconds: Double) -> BenchReport {
        state.withLock { s in
            BenchReport(op: op, conns: conns, clients: clients, seconds: seconds, histogram: s.histogram,
                        errors: s.errors, firstError: s.firstError)
        }
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// `count` KeelClients, client i on endpoint i % endpoints (each with its own connection), on one group.
    static func clients(_ count: Int, endpoints: [Endpoint], group: EventLoopGroup) throws -> [EtcdClient] {
        try (0..<count).map { try EtcdClient(endpoints: [endpoints[$0 % endpoints.count].description], group: group) }
    }
}
