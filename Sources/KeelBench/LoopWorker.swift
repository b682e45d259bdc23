import NIOCore

/// Everything one event loop does in a run: its share of the request budget, its clients, and
/// the statistics they record. Confined to that loop (no locks on the hot path); the result goes
/// back through `done` when the last client runs out of budget.
final class LoopWorker {
    let eventLoop: EventLoop
    private var budget: Int
    private var activeClients = 0
    private(set) var clients: [BenchClient] = []
    private var histogram = LatencyRecorder.makeHistogram()
    /// `--rate`: nanoseconds between request starts on this loop (0: as fast as answers come), and
    /// when the next may start.
    private let intervalNanos: UInt64
    private var nextSlot: UInt64 = 0
    /// Shared completion count for the progress bar (nil when none is shown).
    private let progress: ProgressCounter?
    private var errors = 0
    private var firstError: String?
    private let done: EventLoopPromise<WorkerResult>

    var result: EventLoopFuture<WorkerResult> { done.futureResult }

    init(eventLoop: EventLoop, budget: Int, ratePerSecond: Double, progress: ProgressCounter?) {
        precondition(budget >= 0)
        self.eventLoop = eventLoop
        self.budget = budget
        self.intervalNanos = ratePerSecond > 0 ? UInt64(1e9 / ratePerSecond) : 0
        self.progress = progress
        self.done = eventLoop.makePromise()
    }

    func add(_ client: BenchClient) {
        eventLoop.preconditionInEventLoop()
        clients.append(client)
    }

    /// Starts every client; each keeps one request in flight until the budget is spent.
    func start() {
        eventLoop.preconditionInEventLoop()
        precondition(activeClients == 0, "started twice")
        activeClients = clients.count
        if clients.isEmpty { finish(); return }
        for client in clients { client.sendNext() }
    }

    enum Grant { case now, at(NIODeadline), done }

    @inline(__always)
    func takeRequest() -> Grant {
        guard budget > 0 else { return .done }
        budget -= 1
        guard intervalNanos > 0 else { return .now }
        let now = NIODeadline.now().uptimeNanoseconds
        let slot = max(now, nextSlot)
        nextSlot = slot + intervalNanos
        return slot <= now ? .now : .at(NIODeadline.uptimeNanoseconds(slot))
    }

    @inline(__always)
    func recordSuccess(micros: UInt64) {
        LatencyRecorder.record(micros, in: &histogram)
        progress?.add()
    }

    func recordError(_ message: @autoclosure () -> String) {
        progress?.add()
        errors += 1
        if firstError == nil { firstError = message() }
    }

    func clientFinished() {
        activeClients -= 1
        assert(activeClients >= 0)
        if activeClients == 0 { finish() }
    }

    private func finish() {
        // Clients hold the worker unowned; drop them only after the result is out.
        let result = WorkerResult(histogram: histogram, errors: errors, firstError: firstError,
                                  finishedAtNanos: NIODeadline.now().uptimeNanoseconds)
        done.succeed(result)
    }
}

/// What a worker measured; merged across loops for the report.
struct WorkerResult: Sendable {
    var histogram: LatencyHistogram
    var errors: Int
    var firstError: String?
    var finishedAtNanos: UInt64
}
