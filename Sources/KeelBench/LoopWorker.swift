import NIOCore

/// Everything one event loop does in a run: its share of the request budget, its clients, and
/// the statistics they record. Confined to that loop (no locks on the hot path); the result goes
/// back through `done` when the last client runs out of budget.
final class LoopWorker {
    let eventLoop: EventLoop
    private var budget: Int
    private var activeClients = 0
    private(set) var clients: [BenchClient] = []
    private var histogram = LatencyHistogram()
    private var errors = 0
    private var firstError: String?
    private let done: EventLoopPromise<WorkerResult>

    var result: EventLoopFuture<WorkerResult> { done.futureResult }

    init(eventLoop: EventLoop, budget: Int) {
        precondition(budget >= 0)
        self.eventLoop = eventLoop
        self.budget = budget
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

    @inline(__always)
    func takeRequest() -> Bool {
        guard budget > 0 else { return false }
        budget -= 1
        return true
    }

    @inline(__always)
    func recordSuccess(micros: UInt64) {
        histogram.record(micros: micros)
    }

    func recordError(_ message: @autoclosure () -> String) {
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
