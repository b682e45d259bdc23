/// --cipher-suites: etcd takes Go's crypto/tls names (tlsutil.GetCipherSuite); Keel's TLS library is
/// BoringSSL, which names the same IANA suites the OpenSSL way. Names Go knows but BoringSSL dropped (RC4,
/// ECDHE 3DES, CBC-SHA256) cannot be honoured and are refused rather than silently left out.
public enum CipherSuites {
    public enum Lookup: Equatable, Sendable {
        /// A TLS 1.2 suite and its BoringSSL name.
        case boringSSL(String)
        /// A TLS 1.3 suite: Go accepts the name but TLS 1.3 suites are not configurable (nor in BoringSSL).
        case tls13
        /// Known to Go (so etcd accepts it) but not offered by BoringSSL.
        case unavailable
        /// Unknown to Go: etcd refuses with "unexpected TLS cipher suite".
        case unknown
    }

    /// Go 1.19's tls.CipherSuites() + tls.InsecureCipherSuites() names (and etcd's two CHACHA20 aliases).
    static let table: [String: Lookup] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": .boringSSL("AES128-SHA"),
        "TLS_RSA_WITH_AES_256_CBC_SHA": .boringSSL("AES256-SHA"),
        "TLS_RSA_WITH_AES_128_GCM_SHA256": .boringSSL("AES128-GCM-SHA256"),
        "TLS_RSA_WITH_AES_256_GCM_SHA384": .boringSSL("AES256-GCM-SHA384"),
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": .boringSSL("ECDHE-ECDSA-AES128-SHA"),
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": .boringSSL("ECDHE-ECDSA-AES256-SHA"),
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": .boringSSL("ECDHE-RSA-AES128-SHA"),
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": .boringSSL("ECDHE-RSA-AES256-SHA"),
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .boringSSL("ECDHE-RSA-AES128-GCM-SHA256"),
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .boringSSL("ECDHE-ECDSA-AES128-GCM-SHA256"),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .boringSSL("ECDHE-RSA-AES256-GCM-SHA384"),
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .boringSSL("ECDHE-ECDSA-AES256-GCM-SHA384"),
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .boringSSL("ECDHE-RSA-CHACHA20-POLY1305"),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .boringSSL("ECDHE-ECDSA-CHACHA20-POLY1305"),
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": .boringSSL("ECDHE-RSA-CHACHA20-POLY1305"),
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": .boringSSL("ECDHE-ECDSA-CHACHA20-POLY1305"),
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA": .boringSSL("DES-CBC3-SHA"),
        "TLS_AES_128_GCM_SHA256": .tls13,
        "TLS_AES_256_GCM_SHA384": .tls13,
        "TLS_CHACHA20_POLY1305_SHA256": .tls13,
        "TLS_RSA_WITH_RC4_128_SHA": .unavailable,
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": .unavailable,
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA": .unavailable,
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": .unavailable,
        "TLS_RSA_WITH_AES_128_CBC_SHA256": .unavailable,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": .unavailable,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": .unavailable,
    ]

    public static func lookup(_ goName: String) -> Lookup { table[goName] ?? .unknown }
}
