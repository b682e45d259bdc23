import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks the kernel for an unused TCP port on 127.0.0.1 by binding port 0 and closing the socket.
/// The port is only *probably* free afterwards (another process may grab it), which is the same
/// bet etcd's own integration tests make; tests running in parallel each draw their own ports.
func freeLocalPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError.system("socket() failed: errno \(errno)") }
    defer { close(fd) }

    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw HarnessError.system("bind() failed: errno \(errno)") }

    var actual = sockaddr_in()
    var actualLength = length
    let named = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
    }
    guard named == 0 else { throw HarnessError.system("getsockname() failed: errno \(errno)") }
    let port = UInt16(bigEndian: actual.sin_port)
    precondition(port != 0, "kernel returned port 0 for an ephemeral bind")
    return port
}

/// Ports already handed out in this test process. The kernel may give a closed port back to the
/// next bind(0), so two tests running in parallel could otherwise be told the same "free" port.
/// This file is compiled into more than one test module (KeelClientTests links it) and SwiftPM runs
/// every module's tests in one process, so a module-level set is not enough: a port is claimed by
/// creating its file, exclusively, in a directory of this process's own.
private let handedOut = Mutex(Set<UInt16>())
private let claimDirectory: String = {
    let path = "/tmp/keel-test-ports-\(getpid())"
    _ = mkdir(path, 0o700)
    return path
}()

/// Claims `port` for this process, across every test module in it.
private func claimProcessWide(_ port: UInt16) -> Bool {
    let fd = open("\(claimDirectory)/\(port)", O_CREAT | O_EXCL | O_WRONLY, 0o600)
    guard fd >= 0 else { return false }
    close(fd)
    return true
}
/// Redraws before giving up; collisions are rare, so needing more than a few means a real problem.
private let maxDraws = 16
/// Bounds the registry: a test run starts a few dozen servers, far below this.
private let maxHandedOut = 4096

/// A free port no other test in this process has been given.
func unclaimedLocalPort() throws -> UInt16 {
    for _ in 0..<maxDraws {
        let port = try freeLocalPort()
        let claimed = handedOut.withLock { ports -> Bool in
            precondition(ports.count < maxHandedOut, "port registry full: servers are not being reused sanely")
            return ports.insert(port).inserted
        }
        if claimed && claimProcessWide(port) { return port }
    }
    throw HarnessError.system("no unclaimed port after \(maxDraws) draws")
}

/// The two ports a single-member server needs (client and peer), distinct and unique in this run.
struct ServerPorts: Sendable, Equatable {
    let client: UInt16
    let peer: UInt16

    static func pick() throws -> ServerPorts {
        let ports = ServerPorts(client: try unclaimedLocalPort(), peer: try unclaimedLocalPort())
        precondition(ports.client != ports.peer, "the registry handed out one port twice")
        return ports
    }
}
