import Testing
@testable import KeelConfig

@Suite struct GoParseTests {
    @Test func unsignedLikeStrconvBaseZero() {
        #expect(GoParse.unsigned("0", bits: 64) == .success(0))
        #expect(GoParse.unsigned("100", bits: 64) == .success(100))
        #expect(GoParse.unsigned("0x1F", bits: 64) == .success(31))
        #expect(GoParse.unsigned("0o17", bits: 64) == .success(15))
        #expect(GoParse.unsigned("017", bits: 64) == .success(15))
        #expect(GoParse.unsigned("0b101", bits: 64) == .success(5))
        #expect(GoParse.unsigned("1_000", bits: 64) == .success(1000))
        #expect(GoParse.unsigned("18446744073709551615", bits: 64) == .success(UInt64.max))
        #expect(GoParse.unsigned("18446744073709551616", bits: 64) == .failure(.range))
        #expect(GoParse.unsigned("4294967296", bits: 32) == .failure(.range))
        for bad in ["", "+1", "-1", "1_", "_1", "1__0", "0x", "08", "1e3", " 1"] {
            #expect(GoParse.unsigned(bad, bits: 64) == .failure(.syntax), "\(bad)")
        }
    }

    @Test func signed() {
        #expect(GoParse.signed("-1") == .success(-1))
        #expect(GoParse.signed("+7") == .success(7))
        #expect(GoParse.signed("-9223372036854775808") == .success(Int64.min))
        #expect(GoParse.signed("9223372036854775808") == .failure(.range))
    }

    @Test func durations() {
        #expect(GoParse.duration("0") == 0)
        #expect(GoParse.duration("5s") == 5_000_000_000)
        #expect(GoParse.duration("2h") == 7_200_000_000_000)
        #expect(GoParse.duration("1h30m") == 5_400_000_000_000)
        #expect(GoParse.duration("1.5h") == 5_400_000_000_000)
        #expect(GoParse.duration("100ms") == 100_000_000)
        #expect(GoParse.duration("-10us") == -10_000)
        #expect(GoParse.duration(".5s") == 500_000_000)
        for bad in ["", "5", "s", "1x", "1.s.", "--1s", "1 s"] { #expect(GoParse.duration(bad) == nil, "\(bad)") }
    }

    @Test func bools() {
        #expect(GoParse.bool("True") == true && GoParse.bool("0") == false)
        #expect(GoParse.bool("yes") == nil && GoParse.bool("") == nil)
    }
}
