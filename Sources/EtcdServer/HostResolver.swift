#if canImport(Glibc)
import Glibc
#endif

/// Resolves a host name to its first address, as Go's net.ResolveTCPAddr does for etcd's URL checks.
/// Blocking (getaddrinfo): only for start-up checks.
enum HostResolver {
    static func firstAddress(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(first.pointee.ai_addr, first.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                          NI_NUMERICHOST) == 0 else { return nil }
        return String(cString: buffer)
    }
}
