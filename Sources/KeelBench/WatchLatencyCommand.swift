import ArgumentParser
import KeelClient
import NIOPosix
import Synchronization

/// etcd's `benchmark watch-latency`: puts to one key at `--put-rate`, each waited for until every
/// watcher (`--streams` clients × `--watchers-per-stream` watches) has received its event; the
/// latency is from sending the put to the event's arrival, one sample per watcher and put.
struct WatchLatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch-latency", abstract: "Benchmark watch latency.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Total number of put requests.")
    var putTotal = 1000
    @Option(help: "Number of puts per second.")
    var putRate = 100.0
    @Option(help: "Number of watch clients (each its own connection).")
    var streams = 10
    @Option(name: [.customLong("watchers-per-stream"), .customLong("watch-per-stream")], help: "Watchers per client.")
    var watchersPerStream = 10
    @Option(help: "Key size of the watched key.")
    var keySize = 32
    @Option(help: "Value size of the puts.")
    var valSize = 32

    func validate() throws {
        guard putTotal >= 1, putRate > 0, streams >= 1, watchersPerStream >= 1, keySize >= 1, valSize >= 0 else {
            throw ValidationError("--put-total, --put-rate, --streams, --watchers-per-stream, --key-size must be positive")
        }
    }


    func run() async throws {
        let spec = try common.spec(.put)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: spec.threads)
        let watchClients = try AsyncLoad.clients(streams, endpoints: spec.endpoints, group: group)
        let putter = try EtcdClient(endpoints: spec.endpoints.map(\.description), group: group)
        let key = KeyFormat.key(0, size: keySize)
        // Each put's value starts with its number (8 hex digits), so watchers tell the rounds apart
        // without waiting for the put's answer (events may arrive before it).
        func value(_ round: Int) -> [UInt8] {
            KeyFormat.key(round, size: 8) + [UInt8](repeating: UInt8(ascii: "v"), count: max(0, valSize - 8))
        }
        let watchers = streams * watchersPerStream
        let load = AsyncLoad(budget: putTotal * watchers, progress: spec.progress)
        let round = RoundState()

        var options = WatchOptions()
        options.startRevision = try await putter.get(key).header.revision + 1
        let tasks = (0..<watchers).map { i in
            let stream = watchClients[i % streams].watch(key, options: options)
            return Task {
                do {
                    for try await response in stream {
                        let now = AsyncLoad.now()
                        for event in response.events {
                            let finished = round.state.withLock { r -> CheckedContinuation<Void, Never>? in
                                guard event.kv.value.prefix(8).elementsEqual(KeyFormat.key(r.round, size: 8)) else { return nil }
                                if r.sentAt > 0 { load.record(micros: (now - r.sentAt) / 1000) }
                                r.waiting -= 1
                                guard r.waiting == 0 else { return nil }
                                defer { r.done = nil }
                                return r.done
                            }
                            finished?.resume()
                        }
                    }
                } catch {
                    load.recordError(error)
                }
            }
        }

        // A warm-up put every watcher must see (not recorded): all watches are live after it.
        // One round: the put and every watcher's event; both are waited for (events may arrive
        // before the put's answer, and the client must not close with a put in flight).
        func putAndWait(_ number: Int, recorded: Bool) async throws {
            round.state.withLock { r in
                r.round = number
                r.waiting = watchers
                r.done = nil
                r.sentAt = recorded ? AsyncLoad.now() : 0
            }
            let put = Task { () -> Error? in
                do {
                    try await putter.put(key, value(number))
                    return nil
                } catch {
                    // No event will come: release the round.
                    let waiter = round.state.withLock { r -> CheckedContinuation<Void, Never>? in
                        r.waiting = 0
                        defer { r.done = nil }
                        return r.done
                    }
                    waiter?.resume()
                    return error
                }
            }
            await withCheckedContinuation { continuation in
                let ready = round.state.withLock { r -> Bool in
                    if r.waiting <= 0 { return true }
                    r.done = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
            if let error = await put.value { load.recordError(error) }
        }
        try await putAndWait(0, recorded: false)
        let bar = load.progress.map(ProgressBar.init)
        let started = AsyncLoad.now()
        let interval = UInt64(1e9 / putRate)
        for i in 0..<putTotal {
            let due = started + UInt64(i) * interval
            let now = AsyncLoad.now()
            if due > now { try await Task.sleep(nanoseconds: due - now) }
            try await putAndWait(i + 1, recorded: true)
        }
        let seconds = Double(AsyncLoad.now() - started) / 1e9
        bar?.finish()
        for task in tasks { task.cancel() }
        for client in watchClients { try? await client.close() }
        try? await putter.close()
        try? await group.shutdownGracefully()
        var report = load.report(op: "watch-latency", conns: streams, clients: watchers, seconds: seconds)
        report.details = [("puts", "\(putTotal)"), ("put_rate", format(putRate, decimals: 1)),
                          ("streams", "\(streams)"), ("watchers", "\(watchers)")]
        try common.emit(report)
    }
}

/// The put in flight: its revision once known, when it was sent (0: not recorded), how many
/// watchers have yet to see it, and who waits for them.
final class RoundState: Sendable {
    struct Round {
        var round = -1
        var sentAt: UInt64 = 0
        var waiting = 0
        var done: CheckedContinuation<Void, Never>?
    }
    let state = Mutex(Round())
}
