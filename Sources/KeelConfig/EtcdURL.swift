#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One URL from a flag like --listen-client-urls, validated by etcd's rules
/// (pkg/types/urls.go: scheme http/https/unix/unixs, "host:port", no path).
public struct EtcdURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable { case http, https, unix, unixs }

    public let scheme: Scheme
    /// Host without IPv6 brackets ("" when the URL is "http://:2379").
    public let host: String
    /// The port as written; Go's url.Parse guarantees digits only (or empty).
    public let portText: String
    /// Go's url.URL.String() of this URL: the form etcd hashes for member ids and compares.
    public let canonical: String

    public var description: String { canonical }

    /// Numeric port, nil when empty or above 65535. Port 0 means "any free port".
    public var port: UInt16? { UInt16(portText) }

    /// True when the host is an IP literal or "localhost": what etcd can bind to (checkBindURLs).
    public var hasBindableHost: Bool { host == "localhost" || EtcdURL.isIPLiteral(host) }

    /// Whether this URL is served over TLS.
    public var requiresTLS: Bool { scheme == .https || scheme == .unixs }

    /// Parses one URL with etcd's checks; the error text matches etcd's where it has one.
    public static func parse(_ raw: String) -> Result<EtcdURL, ConfigError> {
        let input = raw.trimmingASCIIWhitespace()
        func fail(_ m: String) -> Result<EtcdURL, ConfigError> { .failure(ConfigError(m)) }

        // Scheme: a letter then letters/digits/+-. up to ':' (Go url.getScheme).
        var schemeEnd: String.Index? = nil
        for i in input.indices {
            let c = input[i]
            if c == ":" { schemeEnd = i; break }
            let ok = c.isASCII && (c.isLetter || (i != input.startIndex && (c.isNumber || c == "+" || c == "-" || c == ".")))
            if !ok { break }
        }
        guard let colon = schemeEnd, colon != input.startIndex else {
            if input.prefix(while: { $0 != "/" }).contains(":") {
                return fail("parse \"\(input)\": first path segment in URL cannot contain colon")
            }
            return fail("URL scheme must be http, https, unix, or unixs: \(input)")
        }
        let schemeText = input[..<colon].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            return fail("URL scheme must be http, https, unix, or unixs: \(input)")
        }
        let rest = input[input.index(after: colon)...]
        guard rest.hasPrefix("//") else {
            // "http:foo" is an opaque URL in Go: no host, so no host:port.
            return fail("URL address does not have the form \"host:port\": \(input)")
        }
        let afterSlashes = rest.dropFirst(2)
        let authorityEnd = afterSlashes.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterSlashes.endIndex
        let authority = afterSlashes[..<authorityEnd]
        let tail = afterSlashes[authorityEnd...]
        let hostPort = authority.lastIndex(of: "@").map { authority[authority.index(after: $0)...] } ?? authority

        // Go url.Parse: a port, if present, must be digits.
        var host = Substring(hostPort)
        var port = Substring("")
        var hasColon = false
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                return fail("parse \"\(input)\": missing ']' in host")
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { hasColon = true; port = after.dropFirst() }
            else if !after.isEmpty { return fail("parse \"\(input)\": invalid port \"\(after)\" after host") }
        } else if let c = hostPort.lastIndex(of: ":") {
            hasColon = true
            host = hostPort[..<c]
            port = hostPort[hostPort.index(after: c)...]
            if host.contains(":") {
                // net.SplitHostPort: "too many colons" for an unbracketed IPv6 address.
                return fail("URL address does not have the form \"host:port\": \(input)")
            }
        }
        if !port.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return fail("parse \"\(input)\": invalid port \":\(port)\" after host")
        }
        if !hasColon {
            return fail("URL address does not have the form \"host:port\": \(input)")
        }
        let path = tail.prefix(while: { $0 != "?" && $0 != "#" })
        if !path.isEmpty {
            return fail("URL must not contain a path: \(input)")
        }
        let canonical = schemeText + input[colon...]
        return .success(EtcdURL(scheme: scheme, host: String(host), portText: String(port), canonical: String(canonical)))
    }

    /// Parses a comma-separated list, sorted by canonical string as etcd's types.NewURLs does.
    public static func parseList(_ raw: String) -> Result<[EtcdURL], ConfigError> {
        var urls: [EtcdURL] = []
        for part in raw.split(separator: ",", omittingEmptySubsequences: false) {
            switch parse(String(part)) {
            case .success(let u): urls.append(u)
            case .failure(let e): return .failure(e)
            }
        }
        urls.sort { $0.canonical < $1.canonical }
        return .success(urls)
    }

    /// Go's net.ParseIP acceptance (no zones), via inet_pton.
    static func isIPLiteral(_ s: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return s.withCString { inet_pton(AF_INET, $0, &v4) == 1 || inet_pton(AF_INET6, $0, &v6) == 1 }
    }
}

extension String {
    /// Go's strings.TrimSpace for the ASCII whitespace that can appear in flags.
    func trimmingASCIIWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
