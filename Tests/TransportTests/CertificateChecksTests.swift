@testable import Transport
import XCTest

/// Go's x509 VerifyHostname (for --*-cert-allowed-hostname) and etcd's checkCertSAN (peer listeners).
final class CertificateChecksTests: XCTestCase {
    let loopback: [UInt8] = [127, 0, 0, 1]

    func testHostnameMatchesSANsOnly() {
        let sans = SANs(dns: ["member-0.etcd", "*.peers.example"], ips: [loopback])
        XCTAssertTrue(sans.matches(host: "member-0.etcd"))
        XCTAssertTrue(sans.matches(host: "MEMBER-0.etcd."), "case and a trailing dot do not matter")
        XCTAssertTrue(sans.matches(host: "a.peers.example"))
        XCTAssertFalse(sans.matches(host: "a.b.peers.example"), "a wildcard covers one label")
        XCTAssertFalse(sans.matches(host: "peers.example"))
        XCTAssertTrue(sans.matches(host: "127.0.0.1"))
        XCTAssertFalse(sans.matches(host: "127.0.0.2"))
        XCTAssertFalse(sans.matches(host: "member-1.etcd"))
    }

    func testRemoteAddressCheckUsesEtcdsTexts() {
        XCTAssertNil(SANs(dns: [], ips: []).checkRemote("10.0.0.9"), "no SANs: nothing to check")
        XCTAssertNil(SANs(dns: [], ips: [loopback]).checkRemote("127.0.0.1"))
        XCTAssertEqual(SANs(dns: [], ips: [loopback]).checkRemote("10.0.0.9"),
                       "x509: certificate is valid for 127.0.0.1, not 10.0.0.9")
        XCTAssertNil(SANs(dns: ["localhost"], ips: []).checkRemote("127.0.0.1"), "a name resolving to the caller")
        XCTAssertEqual(SANs(dns: ["elsewhere.invalid"], ips: [loopback]).checkRemote("10.0.0.9"),
                       "tls: \"10.0.0.9\" does not match any of DNSNames [\"elsewhere.invalid\"]")
    }

    func testIPLiterals() {
        XCTAssertEqual(IPAddressText.parse("127.0.0.1"), loopback)
        XCTAssertEqual(IPAddressText.parse("[::1]")?.count, 16)
        XCTAssertNil(IPAddressText.parse("localhost"))
        XCTAssertEqual(IPAddressText.format(loopback), "127.0.0.1")
    }
}
