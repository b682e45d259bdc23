import Foundation
import Testing

/// etcdctl's per-endpoint commands with endpoints written as URLs (`http://host:port`, and what
/// `--cluster` takes from the member list): clientv3 3.4 then sends the URL as the HTTP/2 :authority,
/// which Go's server accepts, so Keel must too.
@Suite struct EtcdctlEndpointTests {
    @Test func endpointCommandsAcceptURLEndpointsAsEtcdDoes() throws {
        let pair = try SideBySide(label: "endpoint-urls")
        for server in [pair.etcd, pair.subject] {
            let ctl = Etcdctl(endpoint: server.clientURL)
            for args in [["endpoint", "status"], ["endpoint", "status", "--cluster"], ["endpoint", "hashkv"],
                         ["endpoint", "health"]] {
                let r = try ctl.run(args)
                #expect(r.exitCode == 0, "\(server.kind) etcdctl \(args.joined(separator: " ")): \(r)")
                #expect((r.stdout + r.stderr).contains(server.clientURL), "\(server.kind): \(r)")  // health prints to stderr
            }
        }
    }
}
