import Foundation
import KeelClient

/// One real server (etcd or keel) on its own ports and scratch dir, and a KeelClient on it.
final class ClientServer {
    let kind: ServerKind
    let scratch: ScratchDirectory
    let ports: ServerPorts
    private(set) var process: ServerProcess
    var dataDir: String { scratch.child("data") }
    var endpoint: String { process.endpoint }

    init(_ kind: ServerKind, label: String, extraFlags: [String] = []) throws {
        self.kind = kind
        scratch = try ScratchDirectory(label: "client-\(label)-\(kind)")
        ports = try ServerPorts.pick()
        process = try ServerProcess.start(kind, dataDir: scratch.child("data"), ports: ports, extraFlags: extraFlags)
    }

    func client(extraEndpoints: [String] = []) throws -> EtcdClient {
        try EtcdClient(endpoints: [endpoint] + extraEndpoints)
    }

    /// SIGTERM, then start again on the same ports and data dir.
    func restart() throws {
        process.stop()
        process = try ServerProcess.start(kind, dataDir: dataDir, ports: ports)
    }

    func stop() { process.stop() }
}

/// The events of the next responses of a watch until there are `count` (tests bound the wait
/// with a time limit trait).
func nextEvents(_ iterator: inout WatchStream.AsyncIterator, count: Int) async throws -> [WatchEvent] {
    var events: [WatchEvent] = []
    while events.count < count {
        guard let response = try await iterator.next() else {
            throw HarnessError.badOutput("watch ended after \(events.count) of \(count) events")
        }
        events += response.events
    }
    return events
}

extension WatchEvent {
    /// "PUT k=v@rev" / "DELETE k@rev", for readable comparisons.
    var summary: String {
        kind == .put ? "PUT \(kv.keyString)=\(kv.valueString)@\(kv.modRevision)" : "DELETE \(kv.keyString)@\(kv.modRevision)"
    }
}
