import ArgumentParser
import KeelClient
import NIOPosix

/// etcd's `benchmark lease-keepalive`: each client grants a lease, then sends keep-alives for it,
/// one at a time, until `--total` have been answered.
struct LeaseKeepaliveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lease-keepalive", abstract: "Benchmark lease keepalive.")
    @OptionGroup var common: CommonOptions
    @Option(help: "TTL in seconds of the leases granted.")
    var ttl: Int64 = 100

    func run() async throws {
        let spec = try common.spec(.put)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: spec.threads)
        let clients = try AsyncLoad.clients(spec.conns, endpoints: spec.endpoints, group: group)
        let load = AsyncLoad(budget: spec.total, progress: spec.progress)
        var leases: [Int64] = []
        for i in 0..<spec.clients {
            leases.append(try await clients[i % clients.count].grantLease(ttl: ttl).id)
        }
        let bar = load.progress.map(ProgressBar.init)
        let started = AsyncLoad.now()
        await withTaskGroup(of: Void.self) { tasks in
            for (i, lease) in leases.enumerated() {
                let client = clients[i % clients.count]
                tasks.addTask {
                    while load.take() {
                        let t0 = AsyncLoad.now()
                        do {
                            _ = try await client.keepAliveOnce(id: lease)
                            load.record(micros: (AsyncLoad.now() - t0) / 1000)
                        } catch {
                            load.recordError(error)
                        }
                    }
                }
            }
        }
        let seconds = Double(AsyncLoad.now() - started) / 1e9
        bar?.finish()
        for (i, lease) in leases.enumerated() { _ = try? await clients[i % clients.count].revokeLease(id: lease) }
        for client in clients { try? await client.close() }
        try? await group.shutdownGracefully()
        var report = load.report(op: "lease-keepalive", conns: spec.conns, clients: spec.clients, seconds: seconds)
        report.details = [("ttl", "\(ttl)")]
        try common.emit(report)
    }
}
