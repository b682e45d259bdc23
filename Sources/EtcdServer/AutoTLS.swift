import Crypto
import Foundation
import KeelConfig
import Logging
import SwiftASN1
import X509

/// --auto-tls / --peer-auto-tls: etcd's transport.SelfCert. A self-signed certificate for the listen URLs'
/// hosts (IPs as IP SANs, names as DNS SANs), an ECDSA P-521 key, valid one year, organization "etcd",
/// written as cert.pem and key.pem (0600) into `directory`; files already there are used as they are.
enum AutoTLS {
    static func certificate(in directory: String, hosts: [String], logger: Logger) throws -> (certFile: String, keyFile: String) {
        let certPath = directory + "/cert.pem"
        let keyPath = directory + "/key.pem"
        let files = FileManager.default
        if files.fileExists(atPath: certPath) && files.fileExists(atPath: keyPath) { return (certPath, keyPath) }
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        let key = P521.Signing.PrivateKey()
        let signer = Certificate.PrivateKey(key)
        let name = try DistinguishedName { OrganizationName("etcd") }
        var alternatives: [GeneralName] = []
        for host in hosts {
            if let ip = ipBytes(host) {
                alternatives.append(.ipAddress(ASN1OctetString(contentBytes: ip[...])))
            } else if !host.isEmpty {
                alternatives.append(.dnsName(host))
            }
        }
        let extensions = try Certificate.Extensions {
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage([.serverAuth])
            Critical(BasicConstraints.notCertificateAuthority)
            if !alternatives.isEmpty { SubjectAlternativeNames(alternatives) }
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: signer.publicKey,
            // Whole seconds, rounded down: a fractional now may be encoded as the next second, and a client
            // checking at once would find the certificate "not yet valid".
            notValidBefore: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
            notValidAfter: now + 365 * 24 * 3600, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA512, extensions: extensions, issuerPrivateKey: signer)
        try Data(certificate.serializeAsPEM().pemString.utf8).write(to: URL(fileURLWithPath: certPath))
        logger.info("created cert file", metadata: ["path": "\(certPath)"])
        let keyPEM = key.pemRepresentation + "\n"
        guard files.createFile(atPath: keyPath, contents: Data(keyPEM.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KeelServer.StartupError("cannot write key file \(keyPath)")
        }
        logger.info("created key file", metadata: ["path": "\(keyPath)"])
        return (certPath, keyPath)
    }

    /// The 4 or 16 bytes of an IP literal (brackets allowed), nil for a name.
    static func ipBytes(_ host: String) -> [UInt8]? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, bare, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
