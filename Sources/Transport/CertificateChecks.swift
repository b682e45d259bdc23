#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOSSL

/// etcd's checks of a verified certificate beyond the chain (pkg/transport: baseConfig's VerifyPeerCertificate,
/// checkCRL, checkCertSAN), with etcd's error texts. Returns why the certificate is refused, nil when it is not.
enum CertificateChecks {
    static func verify(_ certificate: NIOSSLCertificate?, policy: TLSCertificatePolicy, role: TLSAdmission.Role,
                       remote: SocketAddress?) -> String? {
        // No certificate: the handshake already decided whether one was required.
        guard let certificate else { return nil }
        if let cn = policy.allowedCN {
            let names = certificate.subjectName.filter { $0.type == .commonName }.map(\.value)
            if names.last != cn { return "client certificate authentication failed" }
        }
        if let host = policy.allowedHostname, !SANs(certificate).matches(host: host) {
            return "client certificate authentication failed"
        }
        if role == .server, let path = policy.crlFile {
            switch RevocationList.load(path: path) {
            case .failure(let error): return error.description
            case .success(let revoked):
                let serial = RevocationList.normalized(certificate.serialNumber)
                if revoked.contains(serial) {
                    return "transport: certificate serial \(hex(serial)) revoked"
                }
            }
        }
        if role == .server, policy.checkSANAgainstRemoteAddress, let ip = remote?.ipAddress {
            return SANs(certificate).checkRemote(ip)
        }
        return nil
    }
}

/// Lower-case hex, as Go's %x of a byte string.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

/// A certificate's DNS and IP subject alternative names.
struct SANs {
    var dns: [String] = []
    var ips: [[UInt8]] = []

    init(dns: [String], ips: [[UInt8]]) {
        self.dns = dns
        self.ips = ips
    }

    init(_ certificate: NIOSSLCertificate) {
        for name in certificate._subjectAlternativeNames() {
            let bytes = name.contents.withUnsafeBufferPointer { Array($0) }
            if name.nameType == .dnsName {
                dns.append(String(decoding: bytes, as: UTF8.self))
            } else if name.nameType == .ipAddress {
                ips.append(bytes)
            }
        }
    }

    /// Go's x509.Certificate.VerifyHostname (SANs only, as Go ≥ 1.15): an IP literal against the IP SANs,
    /// a name against the DNS SANs with a leftmost "*." wildcard.
    func matches(host: String) -> Bool {
        if let ip = IPAddressText.parse(host) { return ips.contains(ip) }
        let wanted = host.lowercased().trimmingSuffix(".")
        return dns.contains { pattern in
            let p = pattern.lowercased()
            if p.hasPrefix("*.") {
                guard let dot = wanted.firstIndex(of: ".") else { return false }
                return wanted[dot...] == p.dropFirst()
            }
            return p == wanted
        }
    }

    /// etcd's checkCertSAN for peer listeners: with IP SANs the remote address must be one of them; with DNS
    /// SANs one of the names must resolve to it. (The forward lookup blocks the event loop briefly; peers
    /// connect rarely. etcd also tries a reverse lookup of the address, which Keel does not.)
    func checkRemote(_ remote: String) -> String? {
        if dns.isEmpty && ips.isEmpty { return nil }
        if !ips.isEmpty {
            if matches(host: remote) { return nil }
            if dns.isEmpty {
                let list = ips.compactMap(IPAddressText.format).joined(separator: ", ")
                return "x509: certificate is valid for \(list), not \(remote)"
            }
        }
        for name in dns where !name.hasPrefix("*.") {
            if IPAddressText.resolve(name).contains(remote) { return nil }
        }
        return "tls: \"\(remote)\" does not match any of DNSNames [\(dns.map { "\"\($0)\"" }.joined(separator: " "))]"
    }
}

/// IP literals as bytes (4 or 16), and name resolution for the SAN check.
enum IPAddressText {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        var v6 = in6_addr()
        let host = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func format(_ bytes: [UInt8]) -> String? {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : bytes.count == 16 ? AF_INET6 : -1
        guard family >= 0 else { return nil }
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &out, socklen_t(out.count)) != nil }
        guard ok else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func resolve(_ name: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let address = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    var a = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    if let s = format(withUnsafeBytes(of: &a) { Array($0) }) { out.append(s) }
                } else if info.pointee.ai_family == AF_INET6 {
                    var a = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    if let s = format(withUnsafeBytes(of: &a) { Array($0) }) { out.append(s) }
                }
            }
            next = info.pointee.ai_next
        }
        return out
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
