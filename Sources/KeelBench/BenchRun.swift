import KeelClient
import NIOCore
import NIOPosix
import Transport

/// One benchmark run: open the connections, place clients on them, spend the request budget,
/// merge what every event loop measured.
enum BenchRun {
    static func run(_ options: LoadSpec) async throws -> BenchReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let result: Result<BenchReport, Error>
        do {
            result = .success(try await run(options, on: group))
        } catch {
            result = .failure(error)
        }
        try? await group.shutdownGracefully()
        return try result.get()
    }

    private static func run(_ options: LoadSpec, on group: EventLoopGroup) async throws -> BenchReport {
        let loops = (0..<options.threads).map { _ in group.next() }
        let tls = try tlsSecurity(options)
        let scheme = tls == nil ? "http" : "https"

        // Connection i lives on loop i % threads and targets endpoint i % endpoints.
        var channels: [Channel] = []
        var connections: [HTTP2Connection] = []
        for index in 0..<options.conns {
            let loop = loops[index % loops.count]
            let endpoint = options.endpoints[index % options.endpoints.count]
            let (channel, connection) = try await connect(host: endpoint.host, port: endpoint.port, on: loop, tls: tls)
            channels.append(channel)
            connections.append(connection)
        }
        defer { for channel in channels { channel.close(promise: nil) } }  // before the group shuts down

        let template: RequestTemplate = switch options.kind {
        case .put, .watch: .put(keySize: options.keySize, valueSize: options.valueSize, seed: options.seed)
        case .txnPut: .txnPut(keySize: options.keySize, valueSize: options.valueSize, ops: options.txnOps, seed: options.seed)
        case .range:
            if let key = options.rangeKey {
                .range(key: key, rangeEnd: options.rangeEnd, serializable: options.serializable)
            } else {
                .range(keySize: options.keySize, rangeEnd: options.rangeEnd, serializable: options.serializable)
            }
        }
        let endpoint = options.endpoints[0]
        var trackers: [NIOLoopBound<WatchTracker>] = []
        var createSeconds = 0.0
        if options.kind == .watch {
            let openedAt = NIODeadline.now().uptimeNanoseconds
            trackers = try await openWatchers(options, loops: loops, channels: &channels, tls: tls)
            createSeconds = Double(NIODeadline.now().uptimeNanoseconds - openedAt) / 1e9
        }
        let headers = HTTP2Headers([
            (":method", "POST"), (":scheme", scheme), (":path", template.path),
            (":authority", "\(endpoint.host):\(endpoint.port)"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "keel-bench"),
        ])

        // Client j uses connection j % conns; each loop gets the budget share of its clients.
        let loopCount = loops.count
        @Sendable func clientLoop(_ client: Int) -> Int { (client % options.conns) % loopCount }
        var clientsPerLoop = [Int](repeating: 0, count: loops.count)
        for client in 0..<options.clients { clientsPerLoop[clientLoop(client)] += 1 }
        var budgets = clientsPerLoop.map { options.total * $0 / options.clients }
        var leftover = options.total - budgets.reduce(0, +)
        for index in budgets.indices where leftover > 0 && clientsPerLoop[index] > 0 {
            budgets[index] += 1
            leftover -= 1
        }
        precondition(leftover == 0 && budgets.reduce(0, +) == options.total, "budget split")

        let progress = options.progress ? ProgressCounter(total: options.total) : nil
        var workers: [NIOLoopBound<LoopWorker>] = []
        for (loopIndex, loop) in loops.enumerated() {
            let budget = budgets[loopIndex]
            let connections = connections
            // --rate: each loop paces its share, in proportion to its clients.
            let loopRate = options.rate * Double(clientsPerLoop[loopIndex]) / Double(options.clients)
            let worker = try await loop.submit {
                let worker = LoopWorker(eventLoop: loop, budget: budget, ratePerSecond: loopRate, progress: progress)
                for client in 0..<options.clients where clientLoop(client) == loopIndex {
                    let keyChoice: BenchClient.KeyChoice =
                        options.rangeKey != nil ? .fixed
                        : options.sequentialKeys ? .sequential(keySpace: options.keySpace)
                        : .random(keySpace: options.keySpace)
                    worker.add(BenchClient(
                        worker: worker, connection: connections[client % options.conns], headers: headers,
                        template: template, keyChoice: keyChoice,
                        seed: options.seed &+ UInt64(client) &* 0x9E37_79B9,
                        // Sequential keys: interleave clients so together they walk the key space.
                        firstSequence: client * max(1, options.total / options.clients)))
                }
                return NIOLoopBound(worker, eventLoop: loop)
            }.get()
            workers.append(worker)
        }

        let bar = progress.map(ProgressBar.init)
        let startedAt = NIODeadline.now().uptimeNanoseconds
        var futures: [EventLoopFuture<WorkerResult>] = []
        for worker in workers {
            futures.append(try await worker.eventLoop.submit {
                worker.value.start()
                return worker.value.result
            }.get())
        }
        var histogram = LatencyRecorder.makeHistogram()
        var errors = 0
        var firstError: String?
        var finishedAt = startedAt
        for future in futures {
            let result = try await future.get()
            histogram.add(result.histogram)
            errors += result.errors
            if firstError == nil { firstError = result.firstError }
            finishedAt = max(finishedAt, result.finishedAtNanos)
        }
        // Keep the workers (and their clients) alive until every result is in.
        withExtendedLifetime(workers) {}
        bar?.finish()
        var report = BenchReport(op: options.kind.rawValue, conns: options.conns, clients: options.clients,
                                 seconds: Double(finishedAt - startedAt) / 1e9,
                                 histogram: histogram, errors: errors, firstError: firstError)
        report.details = [("key_size", "\(options.keySize)"), ("val_size", "\(options.valueSize)"),
                          ("key_space", "\(options.keySpace)"), ("consistency", quoted(options.serializable ? "s" : "l")),
                          ("rate", format(options.rate, decimals: 1))]
        if options.kind == .txnPut { report.details.append(("txn_ops", "\(options.txnOps)")) }
        report.watchShape = (options.streams, options.watchersPerStream, options.watchConns)
        if !trackers.isEmpty {
            report.watch = try await collectEvents(trackers, puts: Int(histogram.totalCount), startedAt: startedAt,
                                                   timeout: .seconds(Int64(options.watchTimeout)))
            report.watch?.createSeconds = createSeconds
            report.cpuSeconds = BenchReport.processCPUSeconds()  // the event counting included
        }
        return report
    }

    /// Opens the watch streams (stream i on watch connection i % watchConns) with their watchers on
    /// [key 0, key space - 1], and returns once the server has confirmed every one.
    private static func openWatchers(_ options: LoadSpec, loops: [EventLoop], channels: inout [Channel],
                                     tls: TLSClientSecurity?) async throws -> [NIOLoopBound<WatchTracker>] {
        var connections: [HTTP2Connection] = []
        for index in 0..<options.watchConns {
            let loop = loops[index % loops.count]
            let endpoint = options.endpoints[index % options.endpoints.count]
            let (channel, connection) = try await connect(host: endpoint.host, port: endpoint.port, on: loop, tls: tls)
            channels.append(channel)
            connections.append(connection)
        }
        let endpoint = options.endpoints[0]
        let headers = HTTP2Headers([
            (":method", "POST"), (":scheme", tls == nil ? "http" : "https"), (":path", "/etcdserverpb.Watch/Watch"),
            (":authority", "\(endpoint.host):\(endpoint.port)"),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "keel-bench"),
        ])
        // Every benchmark key is in [first, last]: the range is [first, last + "\0").
        let first = KeyFormat.key(0, size: options.keySize)
        let rangeEnd = KeyFormat.key(options.keySpace - 1, size: options.keySize) + [0]
        let creates = WatchCreates.framed(key: first, rangeEnd: rangeEnd, count: options.watchersPerStream)
        var trackers: [NIOLoopBound<WatchTracker>] = []
        let watchConnections = connections
        for (loopIndex, loop) in loops.enumerated() {
            let tracker = try await loop.submit {
                let tracker = WatchTracker(eventLoop: loop)
                for stream in 0..<options.streams where (stream % options.watchConns) % loops.count == loopIndex {
                    tracker.open(connection: watchConnections[stream % options.watchConns], headers: headers,
                                 creates: creates, count: options.watchersPerStream)
                }
                return NIOLoopBound(tracker, eventLoop: loop)
            }.get()
            trackers.append(tracker)
        }
        for tracker in trackers {
            try await tracker.eventLoop.flatSubmit {
                tracker.value.waitCreated(timeout: .seconds(Int64(options.watchTimeout)))
            }.get()
        }
        return trackers
    }

    /// After the puts: waits for every event (or the timeout), then closes the watch streams.
    private static func collectEvents(_ trackers: [NIOLoopBound<WatchTracker>], puts: Int, startedAt: UInt64,
                                      timeout: TimeAmount) async throws -> WatchSummary {
        var summary = WatchSummary()
        summary.complete = true
        for tracker in trackers {
            try await tracker.eventLoop.flatSubmit { tracker.value.waitEvents(puts: puts, timeout: timeout) }.get()
        }
        var lastEventAt = startedAt
        for tracker in trackers {
            let part = try await tracker.eventLoop.submit {
                let t = tracker.value
                defer { t.closeAll() }
                return (t.watchers, t.events, t.responses, t.lastEventAt, t.complete, t.errors, t.firstError)
            }.get()
            summary.watchers += part.0
            summary.events += part.1
            summary.responses += part.2
            lastEventAt = max(lastEventAt, part.3)
            summary.complete = summary.complete && part.4
            summary.errors += part.5
            if summary.firstError == nil { summary.firstError = part.6 }
        }
        summary.expected = puts * summary.watchers
        summary.seconds = Double(lastEventAt - startedAt) / 1e9
        return summary
    }

    /// The TLS of --tls-cacert/--tls-cert/--tls-key, nil for plaintext.
    private static func tlsSecurity(_ options: LoadSpec) throws -> TLSClientSecurity? {
        guard !options.tlsCA.isEmpty else { return nil }
        let context = try TLSClientSecurity.makeContext(certFile: options.tlsCert, keyFile: options.tlsKey,
                                                        trustedCAFile: options.tlsCA, skipVerify: false, cipherSuites: [])
        return TLSClientSecurity(context: context, onReject: { _ in })
    }

    private static func connect(host: String, port: Int, on loop: EventLoop,
                                tls: TLSClientSecurity?) async throws -> (Channel, HTTP2Connection) {
        let connection = HTTP2ClientSetup.makeConnection(eventLoop: loop)
        let channel = try await ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tls.install(on: channel, host: host) }
                    try HTTP2ClientSetup.install(connection, on: channel)
                }
            }
            .connect(host: host, port: port).get()
        return (channel, connection)
    }
}
