#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOSSL
import Synchronization
import X509

/// etcd reads its certificate and key again at every TLS handshake (TLSInfo's GetCertificate), so a certificate
/// rotated on disk (cert-manager, a renewal cron) is served without a restart. Here each handshake compares the
/// two files' identity (inode, size, modification time to the nanosecond) with what was loaded and reads them
/// again only when that changed. A pair that does not load (caught mid-rotation, key and certificate not yet
/// matching) keeps the previous one being served.
final class CertificateReloader: Sendable {
    private struct Stamp: Equatable {
        var inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int
    }
    private struct Loaded {
        var stamps: [Stamp]
        var override: NIOSSLContextConfigurationOverride
    }

    private let certFile: String
    private let keyFile: String
    private let loaded: Mutex<Loaded?>

    init(certFile: String, keyFile: String) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.loaded = Mutex(nil)
    }

    /// What the handshake should present: the files' current pair, or no change when they did not move.
    func current() -> NIOSSLContextConfigurationOverride {
        let stamps = [Self.stamp(certFile), Self.stamp(keyFile)].compactMap { $0 }
        if let cached = loaded.withLock({ $0 }), cached.stamps == stamps { return cached.override }
        guard let chain = try? NIOSSLCertificate.fromPEMFile(certFile), !chain.isEmpty,
              let key = try? NIOSSLPrivateKey(file: keyFile, format: .pem),
              !Self.keyMismatch(certFile: certFile, keyFile: keyFile) else {
            return loaded.withLock { $0?.override } ?? .noChanges
        }
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = chain.map { .certificate($0) }
        override.privateKey = .privateKey(key)
        loaded.withLock { $0 = Loaded(stamps: stamps, override: override) }
        return override
    }

    /// Whether the key file's key is certainly not the one the certificate was issued for (as halfway through a
    /// rotation that replaces one file, then the other). Files swift-certificates cannot read are not judged here.
    static func keyMismatch(certFile: String, keyFile: String) -> Bool {
        guard let certPEM = try? String(contentsOfFile: certFile, encoding: .utf8),
              let keyPEM = try? String(contentsOfFile: keyFile, encoding: .utf8),
              // The leaf is the file's first certificate (a chain file holds its issuers after it).
              let end = certPEM.range(of: "-----END CERTIFICATE-----"),
              let leaf = try? Certificate(pemEncoded: String(certPEM[..<end.upperBound])),
              let key = try? Certificate.PrivateKey(pemEncoded: keyPEM) else { return false }
        return leaf.publicKey != key.publicKey
    }

    private static func stamp(_ path: String) -> Stamp? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return Stamp(inode: UInt64(s.st_ino), size: Int64(s.st_size), seconds: s.st_mtim.tv_sec, nanoseconds: s.st_mtim.tv_nsec)
    }
}
