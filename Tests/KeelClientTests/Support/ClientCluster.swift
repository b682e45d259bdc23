import Foundation
import KeelClient

/// A real 3-member etcd or keel cluster on loopback (free ports, own data dirs, fast election
/// timing), its leader found through KeelClient's Status. Every process is reaped.
final class ClientCluster {
    let kind: ServerKind
    let scratch: ScratchDirectory
    let ports: [ServerPorts]
    private(set) var processes: [ServerProcess?]
    let token = "client-\(UUID().uuidString.prefix(8))"

    var endpoints: [String] { ports.map { "127.0.0.1:\($0.client)" } }

    init(_ kind: ServerKind, size: Int) throws {
        self.kind = kind
        scratch = try ScratchDirectory(label: "client-cluster-\(kind)")
        ports = try (0..<size).map { _ in try ServerPorts.pick() }
        processes = Array(repeating: nil, count: size)
        let initial = ports.enumerated().map { "m\($0.offset)=http://127.0.0.1:\($0.element.peer)" }.joined(separator: ",")
        for i in 0..<size {
            let client = "http://127.0.0.1:\(ports[i].client)", peer = "http://127.0.0.1:\(ports[i].peer)"
            let flags = [
                "--name", "m\(i)", "--data-dir", scratch.child("m\(i)"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", token,
                "--heartbeat-interval", "50", "--election-timeout", "500",
            ]
            processes[i] = try ServerProcess(kind: kind, ports: ports[i], dataDir: scratch.child("m\(i)"), arguments: flags,
                                             environment: CommandRunner.cleanEnvironment(), waitUntilReady: false)
        }
        for process in processes { try process?.waitUntilReady() }
    }

    func stop(_ i: Int) { processes[i]?.stop() }
    func kill9(_ i: Int) { processes[i]?.kill9() }
    func stopAll() { for p in processes { p?.stop() } }

    /// The index of the member every running member names as leader, polled up to `seconds`.
    func leader(excluding: Set<Int> = [], seconds: Double = 15) async throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        let probe = try EtcdClient(endpoints: endpoints)
        defer { Task { try? await probe.close() } }
        while Date() < deadline {
            var leaders: Set<UInt64> = []
            var ids: [UInt64: Int] = [:]
            var complete = true
            for i in endpoints.indices where !excluding.contains(i) {
                guard let status = try? await probe.status(endpoint: Endpoint(endpoints[i])) else { complete = false; break }
                leaders.insert(status.leader)
                ids[status.header.memberID] = i
            }
            if complete, leaders.count == 1, let id = leaders.first, id != 0, let index = ids[id] { return index }
            try await Task.sleep(nanoseconds: 100_000_000)  // polling external processes
        }
        throw HarnessError.notReady("no agreed leader within \(seconds)s")
    }
}
