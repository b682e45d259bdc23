import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// A 3-member Keel cluster whose members live in network namespaces the test makes itself, so the test can
// break the network between them the way real networks break.
//
// Topology (every address below exists only inside namespaces of this run; nothing touches the host's
// own network, and several runs side by side never see each other's addresses):
//
//   hub ns:     bridge "br0" with one port per member ("m0", "m1", "m2")
//   member i:   "eth0" 10.77.0.(i+1)/24, the other end of hub port "m<i>"   (peer network)
//               "cli"  10.77.(i+1).1/30, a second veth pair NOT on the bridge (client path)
//               keel listens for clients on 0.0.0.0:2379 (as in a pod) and for peers on 127.0.0.1:2381;
//               a `PeerProxy` thread listens on 10.77.0.(i+1):2380 and forwards to 127.0.0.1:2381.
//   client ns:  "m<i>" 10.77.(i+1).2/30 for each member: etcdctl runs here (`ip netns exec`).
//
// Faults:
//   * isolate(i): `ip link set m<i> down` in the hub. Member i can talk to neither peer, in either
//     direction; its client link stays up so the test can see how it answers.
//   * cutOneWay(from:to:): member `to`'s proxy drops every byte that arrives on connections opened by
//     member `from` (it keeps reading them, so the sender sees no back-pressure and no reset: the bytes are
//     simply lost, like a black hole). Keel's transport sends A's messages to B only on connections A dials
//     to B, and B's to A only on connections B dials to A, so this loses A→B messages while B→A messages
//     still flow. (A packet filter cannot do this: TCP needs its ACKs both ways, so dropping A→B packets
//     kills B's connection to A as well. etcd's functional tests blackhole peer traffic with a proxy too.)
//     The proxy sees the real source address of each connection, which is how it tells members apart.
//   * heal: link up / proxy forwards again (connections that lost bytes are closed: a byte stream with a
//     hole in it cannot continue, the sender redials).
//
// Every namespace is deleted by `shutdown()` (call it in a `defer`) and, as a safety net, by `deinit`;
// namespaces left by an earlier run that was killed (its pid is in the name) are removed at start.

/// Runs `/usr/sbin/ip` (or another tool) and throws with its stderr when it fails.
enum NetTool {
    static let ip = "/usr/sbin/ip"

    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        let result = try CommandRunner.run(ip, arguments, timeoutSeconds: 10)
        guard result.exitCode == 0 else {
            throw HarnessError.system("ip \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        return result.stdout
    }

    /// Whether this machine can run the namespace tests at all (root and iproute2).
    static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: ip) }
}

/// The namespaces, veth pairs and bridge of one run. All links live inside the namespaces, so deleting
/// the namespaces deletes every link (a veth pair dies with either end's namespace, the bridge with the hub).
final class FaultNetwork {
    static let prefix = "kfault"
    let run: String
    let hub: String
    let client: String
    let members: [String]
    private var made: [String] = []
    private let lock = NSLock()

    init(size: Int) throws {
        Self.removeLeftoversOfDeadRuns()
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let run = "\(Self.prefix)-\(getpid())-\(tag)"
        self.run = run
        hub = "\(run)-hub"
        client = "\(run)-cli"
        members = (0..<size).map { "\(run)-m\($0)" }
        do {
            for ns in [hub, client] + members { try add(ns) }
            try NetTool.ip(["-n", hub, "link", "add", "br0", "type", "bridge"])
            try NetTool.ip(["-n", hub, "link", "set", "br0", "up"])
            for ns in [hub, client] + members { try NetTool.ip(["-n", ns, "link", "set", "lo", "up"]) }
            for (i, ns) in members.enumerated() {
                // Peer network: eth0 in the member, port m<i> on the hub's bridge.
                try NetTool.ip(["link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", "m\(i)", "netns", hub])
                try NetTool.ip(["-n", hub, "link", "set", "m\(i)", "master", "br0"])
                try NetTool.ip(["-n", hub, "link", "set", "m\(i)", "up"])
                try NetTool.ip(["-n", ns, "addr", "add", "\(Self.peerAddress(i))/24", "dev", "eth0"])
                try NetTool.ip(["-n", ns, "link", "set", "eth0", "up"])
                // Client path: a point-to-point link from the client namespace, not on the bridge.
                try NetTool.ip(["link", "add", "cli", "netns", ns, "type", "veth", "peer", "name", "m\(i)", "netns", client])
                try NetTool.ip(["-n", ns, "addr", "add", "\(Self.clientAddress(i))/30", "dev", "cli"])
                try NetTool.ip(["-n", client, "addr", "add", "\(Self.clientSideAddress(i))/30", "dev", "m\(i)"])
                try NetTool.ip(["-n", ns, "link", "set", "cli", "up"])
                try NetTool.ip(["-n", client, "link", "set", "m\(i)", "up"])
            }
        } catch {
            shutdown()
            throw error
        }
    }

    static func peerAddress(_ i: Int) -> String { "10.77.0.\(i + 1)" }
    static func clientAddress(_ i: Int) -> String { "10.77.\(i + 1).1" }
    static func clientSideAddress(_ i: Int) -> String { "10.77.\(i + 1).2" }

    private func add(_ ns: String) throws {
        try NetTool.ip(["netns", "add", ns])
        lock.withLock { made.append(ns) }
    }

    /// Cuts member `i` off the bridge (both directions, both peers).
    func isolate(_ i: Int) throws { try NetTool.ip(["-n", hub, "link", "set", "m\(i)", "down"]) }
    func reconnect(_ i: Int) throws { try NetTool.ip(["-n", hub, "link", "set", "m\(i)", "up"]) }

    /// Deletes every namespace this run made (and with them every link). Idempotent.
    func shutdown() {
        let names = lock.withLock { () -> [String] in
            defer { made.removeAll() }
            return made
        }
        for ns in names.reversed() { _ = try? CommandRunner.run(NetTool.ip, ["netns", "delete", ns], timeoutSeconds: 10) }
    }

    deinit { shutdown() }

    /// Namespaces named by a run whose process is gone (a test process killed before its cleanup ran).
    /// Runs of live processes (parallel test runs) are left alone.
    private static func removeLeftoversOfDeadRuns() {
        guard let list = try? CommandRunner.run(NetTool.ip, ["netns", "list"], timeoutSeconds: 10) else { return }
        for line in list.stdout.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            let parts = name.split(separator: "-")
            guard parts.count >= 4, parts[0] == prefix, let pid = Int32(parts[1]) else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            // Servers that run inside it outlived their test process: they are ours, end them first.
            if let pids = try? CommandRunner.run(NetTool.ip, ["netns", "pids", name], timeoutSeconds: 10) {
                for p in pids.stdout.split(separator: "\n").compactMap({ Int32($0) }) { kill(p, SIGKILL) }
            }
            _ = try? CommandRunner.run(NetTool.ip, ["netns", "delete", name], timeoutSeconds: 10)
        }
    }
}

// MARK: - A TCP proxy inside a namespace that can lose one direction of traffic

private typealias SetNSFunction = @convention(c) (Int32, Int32) -> Int32
private let cloneNewNet: Int32 = 0x4000_0000

/// Moves the calling thread (only it) into network namespace `name`. Sockets it creates afterwards belong
/// to that namespace for their whole life. (Glibc's Swift module does not export setns.)
private func enterNetworkNamespace(_ name: String) throws {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
        throw HarnessError.system("setns not found")
    }
    let setns = unsafeBitCast(symbol, to: SetNSFunction.self)
    let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw HarnessError.system("open /run/netns/\(name): errno \(errno)") }
    defer { close(fd) }
    guard setns(fd, cloneNewNet) == 0 else { throw HarnessError.system("setns \(name): errno \(errno)") }
}

/// Forwards TCP connections from `listenHost:listenPort` to `127.0.0.1:targetPort`, all inside namespace
/// `namespace`, on one thread of its own (poll loop). It can drop everything that arrives on connections
/// from a given source address (`blackhole(from:)`) while forwarding the reverse direction and every other
/// source as usual, and counts the bytes forwarded and dropped per source address.
final class PeerProxy: Sendable {
    private struct Control {
        var blackholed: Set<String> = []
        /// Milliseconds added to everything arriving from a source (one-way delay).
        var delays: [String: Int] = [:]
        var stopping = false
        var forwarded: [String: Int] = [:]
        var dropped: [String: Int] = [:]
    }

    /// nil: the test's own namespace (a proxy on loopback, no root needed).
    let namespace: String?
    private let control = Mutex(Control())
    private let finished = DispatchSemaphore(value: 0)

    init(namespace: String?, listenHost: String, listenPort: UInt16, targetPort: UInt16) throws {
        self.namespace = namespace
        let started = DispatchSemaphore(value: 0)
        let startError = Mutex<String?>(nil)
        let thread = Thread { [self] in
            var listener: Int32 = -1
            do {
                if let namespace { try enterNetworkNamespace(namespace) }
                listener = try Self.listen(host: listenHost, port: listenPort)
            } catch {
                startError.withLock { $0 = "\(error)" }
            }
            started.signal()
            if listener >= 0 { loop(listener: listener, targetPort: targetPort) }
            finished.signal()
        }
        thread.name = "keel-fault-proxy"
        thread.start()
        started.wait()
        if let message = startError.withLock({ $0 }) {
            finished.wait()
            throw HarnessError.system("proxy in \(namespace ?? "the test's namespace"): \(message)")
        }
    }

    /// From now on, bytes arriving on connections from `source` are read and thrown away.
    func blackhole(from source: String) { control.withLock { _ = $0.blackholed.insert(source) } }
    /// From now on, bytes arriving from `source` are forwarded `milliseconds` late (0: on time again).
    func delay(from source: String, milliseconds: Int) { control.withLock { $0.delays[source] = milliseconds > 0 ? milliseconds : nil } }
    /// Forward from `source` again; connections that lost bytes are closed (their peer redials).
    func restore(from source: String) { control.withLock { _ = $0.blackholed.remove(source) } }

    func forwardedBytes(from source: String) -> Int { control.withLock { $0.forwarded[source] ?? 0 } }
    func droppedBytes(from source: String) -> Int { control.withLock { $0.dropped[source] ?? 0 } }

    /// Stops the thread and closes every socket. Idempotent.
    func stop() {
        let first = control.withLock { c -> Bool in
            defer { c.stopping = true }
            return !c.stopping
        }
        if first { finished.wait() }
    }

    deinit { stop() }

    // The loop below runs on the proxy's thread only; `Connection`s never leave it.

    private final class Connection {
        let client: Int32
        let upstream: Int32
        let source: String
        var toUpstream: [UInt8] = []
        /// Bytes held back by a delay, with the time (ms, monotonic) they may go on.
        var delayed: [(due: Int, bytes: [UInt8])] = []
        var delayedBytes = 0
        var toClient: [UInt8] = []
        var lostBytes = false
        var dead = false
        init(client: Int32, upstream: Int32, source: String) {
            self.client = client
            self.upstream = upstream
            self.source = source
        }
    }

    private func loop(listener: Int32, targetPort: UInt16) {
        var connections: [Connection] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        defer {
            for c in connections { close(c.client); close(c.upstream) }
            close(listener)
        }
        while true {
            let (stopping, blackholed, delays) = control.withLock { ($0.stopping, $0.blackholed, $0.delays) }
            let now = Self.milliseconds()
            for c in connections {
                while let first = c.delayed.first, first.due <= now {
                    c.toUpstream.append(contentsOf: first.bytes)
                    c.delayedBytes -= first.bytes.count
                    c.delayed.removeFirst()
                }
            }
            if stopping { return }
            // Healed: a connection that lost bytes cannot continue; close it so the peer redials.
            for c in connections where c.lostBytes && !blackholed.contains(c.source) { c.dead = true }
            connections = reap(connections)

            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for c in connections {
                fds.append(pollfd(fd: c.client, events: Int16(c.toUpstream.isEmpty && c.delayedBytes < 1 << 20 ? POLLIN : 0) | Int16(c.toClient.isEmpty ? 0 : POLLOUT), revents: 0))
                fds.append(pollfd(fd: c.upstream, events: Int16(c.toClient.isEmpty ? POLLIN : 0) | Int16(c.toUpstream.isEmpty ? 0 : POLLOUT), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), 20)  // the timeout only bounds how late a control change is seen
            if ready < 0 && errno != EINTR { return }
            if ready <= 0 { continue }

            for (n, c) in connections.enumerated() {
                let clientEvents = Int32(fds[1 + 2 * n].revents)
                let upstreamEvents = Int32(fds[2 + 2 * n].revents)
                // Hang-up or error without data to read: the connection is over (a read would never come
                // while the other side's buffer is full, and poll would keep waking us).
                for events in [clientEvents, upstreamEvents] where events & POLLIN == 0 && events & (POLLHUP | POLLERR | POLLNVAL) != 0 {
                    c.dead = true
                }
                if c.dead { continue }
                if clientEvents & POLLIN != 0 && c.toUpstream.isEmpty && c.delayedBytes < 1 << 20 {
                    let count = recv(c.client, &buffer, buffer.count, 0)
                    if count > 0 {
                        if blackholed.contains(c.source) {
                            c.lostBytes = true
                            control.withLock { $0.dropped[c.source, default: 0] += count }
                        } else {
                            if let ms = delays[c.source] {
                                c.delayed.append((now + ms, Array(buffer[0..<count])))
                                c.delayedBytes += count
                            } else if !c.delayed.isEmpty {
                                c.delayed.append((now, Array(buffer[0..<count])))  // keeps order behind held bytes
                                c.delayedBytes += count
                            } else {
                                c.toUpstream.append(contentsOf: buffer[0..<count])
                            }
                            control.withLock { $0.forwarded[c.source, default: 0] += count }
                        }
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        c.dead = true
                    }
                }
                if upstreamEvents & POLLIN != 0 && c.toClient.isEmpty {
                    let count = recv(c.upstream, &buffer, buffer.count, 0)
                    if count > 0 {
                        c.toClient.append(contentsOf: buffer[0..<count])
                    } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                        c.dead = true
                    }
                }
                if !c.dead && !c.toUpstream.isEmpty { c.dead = !Self.flush(&c.toUpstream, to: c.upstream) }
                if !c.dead && !c.toClient.isEmpty { c.dead = !Self.flush(&c.toClient, to: c.client) }
            }
            if Int32(fds[0].revents) & POLLIN != 0 { acceptAll(listener, targetPort: targetPort, into: &connections) }
            connections = reap(connections)
        }
    }

    private static func milliseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1000 + t.tv_nsec / 1_000_000
    }

    private func reap(_ connections: [Connection]) -> [Connection] {
        for c in connections where c.dead { close(c.client); close(c.upstream) }
        return connections.filter { !$0.dead }
    }

    private func acceptAll(_ listener: Int32, targetPort: UInt16, into connections: inout [Connection]) {
        while true {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            if client < 0 { return }  // EAGAIN: no more pending
            let a = UInt32(bigEndian: address.sin_addr.s_addr)
            let source = "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)"
            // The member listens on its own loopback; a blocking connect there finishes at once.
            guard let upstream = try? Self.connectLoopback(port: targetPort) else {
                close(client)  // member not listening (yet): the dialer sees a closed connection and retries
                continue
            }
            for fd in [client, upstream] { Self.prepare(fd) }
            connections.append(Connection(client: client, upstream: upstream, source: source))
        }
    }

    /// Writes as much of `pending` as the socket takes; false when the socket is broken.
    private static func flush(_ pending: inout [UInt8], to fd: Int32) -> Bool {
        let count = pending.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if count > 0 {
            pending.removeFirst(count)
            return true
        }
        return count < 0 && (errno == EAGAIN || errno == EINTR)
    }

    private static func prepare(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func socketAddress(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    private static func listen(host: String, port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError.system("socket: errno \(errno)") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = socketAddress(host, port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let e = errno
            close(fd)
            throw HarnessError.system("bind/listen \(host):\(port): errno \(e)")
        }
        prepare(fd)
        return fd
    }

    private static func connectLoopback(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError.system("socket: errno \(errno)") }
        var address = socketAddress("127.0.0.1", port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw HarnessError.system("connect 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }
}

// MARK: - The cluster

/// Three (or `size`) keel members in their own namespaces, peers through `PeerProxy`s, clients through the
/// client namespace. `shutdown()` (in a `defer`) stops everything and deletes the namespaces; `deinit` does
/// the same if a test never got there.
final class NetnsCluster {
    static let clientPort: UInt16 = 2379
    static let advertisedPeerPort: UInt16 = 2380
    static let listenPeerPort: UInt16 = 2381
    static let heartbeatMs = 50
    static let electionMs = 500

    let network: FaultNetwork
    let size: Int
    let token: String
    private(set) var proxies: [PeerProxy] = []
    /// Each member runs as `ip netns exec NS keel ...` (ip execs keel in place: the pid is the server's).
    private(set) var servers: [ServerProcess] = []
    private(set) var memberIDs: [UInt64] = []
    private let scratch: [ScratchDirectory]

    init(size: Int = 3) throws {
        self.size = size
        token = "keel-fault-\(UUID().uuidString.prefix(8))"
        network = try FaultNetwork(size: size)
        scratch = try (0..<size).map { try ScratchDirectory(label: "fault-m\($0)") }
        do {
            for i in 0..<size {
                proxies.append(try PeerProxy(namespace: network.members[i], listenHost: FaultNetwork.peerAddress(i),
                                             listenPort: Self.advertisedPeerPort, targetPort: Self.listenPeerPort))
            }
            let initial = (0..<size).map { "\(name($0))=\(peerURL($0))" }.joined(separator: ",")
            for i in 0..<size {
                let flags = [
                    "--name", name(i), "--data-dir", scratch[i].child("data"),
                    "--listen-client-urls", "http://0.0.0.0:\(Self.clientPort)", "--advertise-client-urls", clientURL(i),
                    "--listen-peer-urls", "http://127.0.0.1:\(Self.listenPeerPort)",
                    "--initial-advertise-peer-urls", peerURL(i),
                    "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", token,
                    "--heartbeat-interval", "\(Self.heartbeatMs)", "--election-timeout", "\(Self.electionMs)",
                    // etcd 3.4's default, spelled out: the scenarios' expectations (a cut-off member campaigns at
                    // ever higher terms and disrupts the leader once healed) depend on it.
                    "--pre-vote=false",
                ]
                servers.append(try ServerProcess(
                    kind: .subject, ports: ServerPorts(client: Self.clientPort, peer: Self.listenPeerPort), dataDir: scratch[i].child("data"),
                    arguments: flags, environment: CommandRunner.cleanEnvironment(), waitUntilReady: false,
                    launcher: [NetTool.ip, "netns", "exec", network.members[i]]))
            }
            for s in servers { try s.waitUntilReady() }
            memberIDs = try (0..<size).map { try status($0).memberID }
        } catch {
            shutdown()
            throw error
        }
    }

    func name(_ i: Int) -> String { "m\(i)" }
    func peerURL(_ i: Int) -> String { "http://\(FaultNetwork.peerAddress(i)):\(Self.advertisedPeerPort)" }
    func clientURL(_ i: Int) -> String { "http://\(endpoint(i))" }
    func endpoint(_ i: Int) -> String { "\(FaultNetwork.clientAddress(i)):\(Self.clientPort)" }

    /// Stops the servers, then the proxies, then deletes the namespaces. Idempotent.
    func shutdown() {
        for s in servers { s.stop() }
        for p in proxies { p.stop() }
        network.shutdown()
    }

    deinit { shutdown() }

    // MARK: Faults

    func isolate(_ i: Int) throws { try network.isolate(i) }
    func reconnect(_ i: Int) throws { try network.reconnect(i) }
    /// Messages from member `from` to member `to` are lost; `to` → `from` still flows.
    func cutOneWay(from: Int, to: Int) { proxies[to].blackhole(from: FaultNetwork.peerAddress(from)) }
    func restoreOneWay(from: Int, to: Int) { proxies[to].restore(from: FaultNetwork.peerAddress(from)) }

    // MARK: etcdctl from the client namespace

    /// `etcdctl` against member(s) `members`, run inside the client namespace.
    func etcdctl(_ members: [Int], _ arguments: [String], json: Bool = false, stdin: String? = nil) throws -> CommandResult {
        try CommandRunner.run(NetTool.ip, etcdctlCommand(members, arguments, json: json),
                              environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]),
                              stdin: stdin, timeoutSeconds: 20)
    }

    /// `etcdctl` against member `member` on a thread of its own, so the test can watch the cluster meanwhile.
    func etcdctlInBackground(_ member: Int, _ arguments: [String]) -> BackgroundCommand {
        BackgroundCommand(NetTool.ip, etcdctlCommand([member], arguments, json: false),
                          environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]))
    }

    private func etcdctlCommand(_ members: [Int], _ arguments: [String], json: Bool) -> [String] {
        var full = ["netns", "exec", network.client, ServerBinaries.etcdctl,
                    "--endpoints", members.map(endpoint).joined(separator: ","),
                    "--dial-timeout", "2s", "--command-timeout", "10s"]
        if json { full += ["-w", "json"] }
        return full + arguments
    }

    func etcdctl(_ member: Int, _ arguments: [String], json: Bool = false) throws -> CommandResult {
        try etcdctl([member], arguments, json: json)
    }

    @discardableResult
    func succeed(_ member: Int, _ arguments: [String], json: Bool = false) throws -> String {
        let result = try etcdctl(member, arguments, json: json)
        guard result.exitCode == 0 else {
            throw HarnessError.badOutput("etcdctl \(arguments.joined(separator: " ")) against m\(member) failed:\n\(result)")
        }
        return result.stdout
    }

    func status(_ i: Int) throws -> KeelCluster.Status {
        let out = try succeed(i, ["endpoint", "status"], json: true)
        return try KeelCluster.Status(etcdctlJSON: out)
    }

    /// `endpoint hashkv` of every member (hash, compact revision ignored), keyed by member index.
    func hashKV(_ members: [Int]) throws -> [Int: (hash: UInt32, revision: Int64)] {
        var result: [Int: (UInt32, Int64)] = [:]
        for i in members {
            let out = try succeed(i, ["endpoint", "hashkv"], json: true)
            guard let array = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]],
                  let hkv = array.first?["HashKV"] as? [String: Any],
                  let hash = hkv["hash"] as? NSNumber,
                  let header = hkv["header"] as? [String: Any] else {
                throw HarnessError.badOutput("endpoint hashkv: \(out)")
            }
            result[i] = (hash.uint32Value, (header["revision"] as? NSNumber)?.int64Value ?? 0)
        }
        return result
    }

    // MARK: Bounded waits

    /// Polls `condition` until it returns a value or `timeout` passes; the error names `what` and the last
    /// observation. Each probe is an etcdctl run (tens of ms), plus a short pause between probes.
    @discardableResult
    func poll<T>(_ what: String, timeout: Double, _ condition: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var last = "never probed"
        while true {
            do {
                if let value = try condition() { return value }
                last = "condition false"
            } catch {
                last = "\(error)"
            }
            if Date() >= deadline { throw HarnessError.timedOut("\(what) within \(timeout)s; last: \(last)") }
            Thread.sleep(forTimeInterval: 0.05)  // poll interval inside the deadline loop
        }
    }

    /// The member every one of `members` names as leader (all agree, nobody says "none"), and its term.
    func awaitLeader(among members: [Int], timeout: Double = 15) throws -> (index: Int, term: UInt64) {
        try poll("an agreed leader among \(members)", timeout: timeout) {
            let statuses = try members.map { try status($0) }
            let leaders = Set(statuses.map(\.leader))
            guard leaders.count == 1, let leader = leaders.first, let index = memberIDs.firstIndex(of: leader) else { return nil }
            return (index, statuses.map(\.raftTerm).max()!)
        }
    }

    /// Member `i`'s raft id.
    func memberID(_ i: Int) -> UInt64 { memberIDs[i] }

    /// Logs of every member, for failure messages.
    var logs: String {
        servers.enumerated().map { "--- m\($0.offset) log ---\n\($0.element.log)" }.joined(separator: "\n")
    }
}

/// A short-lived command running on a thread of its own; `wait()` returns its result (or the harness error).
final class BackgroundCommand: Sendable {
    private let result = Mutex<(Result<CommandResult, HarnessError>, seconds: Double)?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ executable: String, _ arguments: [String], environment: [String: String]) {
        let startedAt = Date()
        let thread = Thread { [self] in
            let outcome: Result<CommandResult, HarnessError>
            do {
                outcome = .success(try CommandRunner.run(executable, arguments, environment: environment, timeoutSeconds: 20))
            } catch let error as HarnessError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(.system("\(error)"))
            }
            result.withLock { $0 = (outcome, Date().timeIntervalSince(startedAt)) }
            done.signal()
        }
        thread.start()
    }

    /// Blocks until the command ended (CommandRunner bounds it at 20 s); its result and how long it ran.
    func wait() throws -> (result: CommandResult, seconds: Double) {
        done.wait()
        done.signal()  // later waits return at once
        let (outcome, seconds) = result.withLock { $0! }
        return (try outcome.get(), seconds)
    }
}
