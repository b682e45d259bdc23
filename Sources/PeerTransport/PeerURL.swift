/// Where a member listens for, or is reached by, its peers: `http://host:port`, `https://host:port` (TLS) or
/// `unix://path`.
/// Host names are kept as written and resolved at each dial (a StatefulSet pod's DNS name appears only once
/// the pod runs).
public enum PeerURL: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int, secure: Bool = false)
    case unix(path: String)

    public init(parsing text: String) throws(PeerTransportError) {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard !path.isEmpty else { throw .invalidURL(text, "empty socket path") }
            self = .unix(path: path)
            return
        }
        let secure = text.hasPrefix("https://")
        guard secure || text.hasPrefix("http://") else {
            throw .invalidURL(text, "only http://, https:// and unix:// peer URLs are supported")
        }
        var rest = Substring(text.dropFirst(secure ? "https://".count : "http://".count))
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else { throw .invalidURL(text, "a peer URL has no path") }
            rest = rest[..<slash]
        }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {  // [v6]:port
            guard let close = rest.firstIndex(of: "]") else { throw .invalidURL(text, "unterminated [") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterHost = rest[rest.index(after: close)...]
            guard afterHost.hasPrefix(":") else { throw .invalidURL(text, "missing port") }
            portText = afterHost.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw .invalidURL(text, "missing port") }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .invalidURL(text, "missing host") }
        guard let port = Int(portText), (0...65535).contains(port) else { throw .invalidURL(text, "bad port") }
        self = .tcp(host: String(host), port: port, secure: secure)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port, let secure):
            let scheme = secure ? "https" : "http"
            return host.contains(":") ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
        case .unix(let path): return "unix://\(path)"
        }
    }

    /// The `:authority` of requests sent to this URL.
    var authority: String {
        switch self {
        case .tcp(let host, let port, _): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix: return "localhost"
        }
    }

    /// Whether connections to this URL use TLS.
    var isSecure: Bool {
        if case .tcp(_, _, true) = self { return true }
        return false
    }

    /// The `:scheme` of requests sent to this URL.
    var scheme: String { isSecure ? "https" : "http" }
}

public enum PeerTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String, String)
    case invalidConfig(String)
    case shutDown

    public var description: String {
        switch self {
        case .invalidURL(let url, let why): return "invalid peer URL \"\(url)\": \(why)"
        case .invalidConfig(let why): return "invalid peer transport configuration: \(why)"
        case .shutDown: return "the peer transport is shut down"
        }
    }
}
