import Foundation

/// The serial numbers a certificate revocation list (X.509 CRL, PEM or DER) revokes. Like etcd's checkCRL,
/// only the list is read: its signature and dates are not checked, and the file is read anew at each
/// handshake so a new list applies without a restart.
enum RevocationList {
    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Largest CRL file read (a bound on work per handshake).
    static let maxFileBytes = 16 << 20

    static func load(path: String) -> Result<Set<[UInt8]>, LoadError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(LoadError(description: "open \(path): cannot read the CRL file"))
        }
        guard data.count <= maxFileBytes else { return .failure(LoadError(description: "\(path): CRL file larger than \(maxFileBytes) bytes")) }
        var der = [UInt8](data)
        let pemHeader = Array("-----BEGIN X509 CRL-----".utf8)
        if let start = firstIndex(of: pemHeader, in: der) {
            let text = String(decoding: der[(start + pemHeader.count)...], as: UTF8.self)
            let body = text.components(separatedBy: "-----END").first ?? ""
            guard let decoded = Data(base64Encoded: body.filter { !$0.isWhitespace }) else {
                return .failure(LoadError(description: "x509: malformed PEM CRL in \(path)"))
            }
            der = [UInt8](decoded)
        }
        guard let serials = parse(der) else { return .failure(LoadError(description: "x509: malformed CRL in \(path)")) }
        return .success(serials)
    }

    /// An ASN.1 INTEGER's content as a magnitude without leading zero bytes (Go's big.Int.Bytes()).
    static func normalized(_ serial: [UInt8]) -> [UInt8] {
        Array(serial.drop { $0 == 0 })
    }

    /// CertificateList → tbsCertList → revokedCertificates → each entry's userCertificate.
    static func parse(_ der: [UInt8]) -> Set<[UInt8]>? {
        var outer = DERReader(der[...])
        guard let list = outer.read(tag: 0x30) else { return nil }
        var certList = DERReader(list)
        guard let tbsBytes = certList.read(tag: 0x30) else { return nil }
        var tbs = DERReader(tbsBytes)
        if tbs.peekTag == 0x02 { _ = tbs.read(tag: 0x02) }             // version
        guard tbs.read(tag: 0x30) != nil, tbs.read(tag: 0x30) != nil,  // signature, issuer
              tbs.readTime() else { return nil }                       // thisUpdate
        if tbs.peekTag == 0x17 || tbs.peekTag == 0x18 { _ = tbs.readTime() }  // nextUpdate
        var serials = Set<[UInt8]>()
        guard tbs.peekTag == 0x30, let revokedBytes = tbs.read(tag: 0x30) else { return serials }
        var revoked = DERReader(revokedBytes)
        while !revoked.isAtEnd {
            guard let entryBytes = revoked.read(tag: 0x30) else { return nil }
            var entry = DERReader(entryBytes)
            guard let serial = entry.read(tag: 0x02) else { return nil }
            serials.insert(normalized(Array(serial)))
        }
        return serials
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

/// Reads DER TLVs (definite lengths only, as DER requires).
struct DERReader {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { bytes.isEmpty }
    var peekTag: UInt8? { bytes.first }

    /// The content of the next element if its tag is `tag`.
    mutating func read(tag: UInt8) -> ArraySlice<UInt8>? {
        guard bytes.first == tag, bytes.count >= 2 else { return nil }
        var i = bytes.startIndex + 1
        var length = Int(bytes[i])
        i += 1
        if length & 0x80 != 0 {
            let count = length & 0x7f
            guard count >= 1, count <= 4, bytes.endIndex - i >= count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[i])
                i += 1
            }
        }
        guard length >= 0, bytes.endIndex - i >= length else { return nil }
        let content = bytes[i..<(i + length)]
        bytes = bytes[(i + length)...]
        return content
    }

    mutating func readTime() -> Bool {
        if peekTag == 0x17 { return read(tag: 0x17) != nil }
        return read(tag: 0x18) != nil
    }
}
