import Testing
@testable import WAL

@Suite struct CRC32CTests {
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // RFC 3720 (iSCSI) appendix B.4 vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func theInstructionIsUsedOnX86() {
        #if arch(x86_64)
        #expect(CRC32C.usesHardware, "SSE4.2 is on every x86-64 CPU this runs on")
        #endif
    }

    @Test func slicingMatchesBitwiseReferenceAndIsIncremental() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in 0..<300 {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
            let whole = CRC32C.checksum(bytes)
            #expect(whole == CRC32C.referenceChecksum(bytes))
            #expect(bytes.withUnsafeBytes { CRC32C.tableChecksum($0) } == whole, "tables and instruction agree")
            // From every alignment, so the instruction's 8-byte steps start mid-word too.
            if length > 8 {
                let tail = Array(bytes[3...])
                #expect(CRC32C.checksum(tail) == CRC32C.referenceChecksum(tail))
            }
            let cut = length / 3
            let pieces = CRC32C.checksum(Array(bytes[cut...]), continuing: CRC32C.checksum(Array(bytes[..<cut])))
            #expect(pieces == whole)
        }
    }
}
