import Foundation
@testable import Transport
import XCTest

/// The CRL reader behind --client-crl-file / --peer-crl-file: the serials a list revokes, in the form
/// etcd compares (big-endian magnitude without leading zeros).
final class RevocationListTests: XCTestCase {
    /// `openssl ca -gencrl` after revoking serial 0x03ED (signed by a throwaway test CA).
    static let revoking03ED = """
    -----BEGIN X509 CRL-----
    MIIBhjBwAgEBMA0GCSqGSIb3DQEBCwUAMBcxFTATBgNVBAMMDGtlZWwtdGVzdC1j
    YRcNMjYxMTI5MTk0NDU5WhcNMjYxMjI5MTk0NDU5WjAVMBMCAgPtFw0yNjExMjkx
    OTQ0NTlaoA4wDDAKBgNVHRQEAwIBATANBgkqhkiG9w0BAQsFAAOCAQEAZy5+r1gf
    ceOQ1qD/V5yBSh33AMQNaxvDotfiF8J+5u0sIB7+Qaq/R2UWvlpO7ROa5FVWmM0P
    NmJR6Sg0ImiRR2NotUKqizTioxxFtGt1mgct02vZb5x7RgyGueQi0J+E9YLEUQaK
    8QW+f/8kbfmvy+cb8ZBQoIUmf5Yg8mYtPzbBgSQaXb9rWcPt5WDs4fNPkJtiELSQ
    cdGABRYUwI/Lton1BkSmIROoiYhVbNY+JN+I+wHxI1zbqaTQ/6NjVoSs9T0yFnye
    QWXCNMdy66GiKHMUkthiaKpa+gl0DZtGp6GmwHgBiq5JbQ+o5y1UTCfgU+0WKkgA
    IF83ShLqEmRvxQ==
    -----END X509 CRL-----
    """

    /// The same CA's list with nothing revoked (no revokedCertificates field at all).
    static let empty = """
    -----BEGIN X509 CRL-----
    MIIBbzBZAgEBMA0GCSqGSIb3DQEBCwUAMBcxFTATBgNVBAMMDGtlZWwtdGVzdC1j
    YRcNMjYxMTI5MTk1ODQzWhcNMjYxMjI5MTk1ODQzWqAOMAwwCgYDVR0UBAMCAQEw
    DQYJKoZIhvcNAQELBQADggEBAHqmC4X0AV1m3avypWsjtoKULkGseshZzAgsrIzy
    5zIMD2haK8k9QfpYHZwZ8oPYmErQSB0umiAnolXFhfHD4HKA8j7veGPpgZXDnqUo
    PEoYOtVLTc3ScgHJZBUSu7YQKNMii89jVYgb3xpDxoIObdpLq1CzG0z1MgLywlwT
    F0gG7mLCThnPQeOo4hWyOJf4KknZufulc+ialOWUxLp408so3qiD6Y35St8I05pF
    rkXHqj6CYnlo4jkH5pgYcSgg26qoOIPkjCIUAXcbHNHMLTd6kYAvDvShRQFafRfC
    pJ+6njYl8sBfhgfOhRBbGNTjhyYp66bGhFOzh3VkxrApl8Y=
    -----END X509 CRL-----
    """

    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keel-crl-\(UUID().uuidString).crl").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testPEMListRevokesItsSerial() throws {
        let serials = try RevocationList.load(path: write(Self.revoking03ED)).get()
        XCTAssertEqual(serials, [[0x03, 0xED]])
    }

    func testDERListReadsTheSame() throws {
        let body = Self.revoking03ED.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = try XCTUnwrap(Data(base64Encoded: body))
        XCTAssertEqual(RevocationList.parse([UInt8](der)), [[0x03, 0xED]])
    }

    func testListWithoutEntriesRevokesNothing() throws {
        XCTAssertEqual(try RevocationList.load(path: write(Self.empty)).get(), [])
    }

    func testMalformedAndMissingFilesAreErrorsNotCrashes() throws {
        XCTAssertThrowsError(try RevocationList.load(path: "/nonexistent/keel.crl").get())
        XCTAssertThrowsError(try RevocationList.load(path: write("not a CRL")).get())
        let body = Self.revoking03ED.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = [UInt8](try XCTUnwrap(Data(base64Encoded: body)))
        for cut in stride(from: 1, to: der.count, by: 7) {
            _ = RevocationList.parse(Array(der.prefix(cut)))  // truncated input: nil or a subset, never a trap
        }
        XCTAssertNil(RevocationList.parse([0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]))
    }

    func testSerialsCompareWithoutSignPadding() {
        // DER pads a serial whose top bit is set with 0x00; Go's big.Int.Bytes() does not.
        XCTAssertEqual(RevocationList.normalized([0x00, 0x9F, 0x01]), [0x9F, 0x01])
        XCTAssertEqual(hex([0x03, 0xED]), "03ed")
    }
}
