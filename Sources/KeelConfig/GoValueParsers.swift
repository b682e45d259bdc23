// Parsers with the exact acceptance rules of Go's strconv/time, because etcd's flags go
// through Go's `flag` package and a value etcd accepts must mean the same thing here.

/// Why Go's `flag` package rejected a number; its texts are what etcd prints.
enum GoNumberError: Error, Equatable {
    case syntax
    case range

    /// The text Go's flag package substitutes (`errParse` / `errRange`).
    var flagText: String { self == .syntax ? "parse error" : "value out of range" }

    /// The raw strconv text, used by flag values that don't map errors (etcd's uint32 value).
    func strconvText(function: String, input: String) -> String {
        "strconv.\(function): parsing \"\(input)\": " + (self == .syntax ? "invalid syntax" : "value out of range")
    }
}

public enum GoParse {
    /// strconv.ParseBool.
    static func bool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }

    /// strconv.ParseUint(s, 0, bits): base prefixes 0x/0o/0b, a leading 0 means octal,
    /// underscores only between digits, no sign.
    static func unsigned(_ s: String, bits: Int) -> Result<UInt64, GoNumberError> {
        precondition(bits > 0 && bits <= 64)
        let chars = Array(s.utf8)
        if chars.isEmpty { return .failure(.syntax) }
        var base: UInt64 = 10
        var i = 0
        var sawPrefix = false
        if chars.count >= 2 && chars[0] == UInt8(ascii: "0") {
            switch chars[1] | 0x20 {
            case UInt8(ascii: "x"): base = 16; i = 2; sawPrefix = true
            case UInt8(ascii: "o"): base = 8; i = 2; sawPrefix = true
            case UInt8(ascii: "b"): base = 2; i = 2; sawPrefix = true
            default: base = 8; i = 1
            }
        }
        if sawPrefix && i == chars.count { return .failure(.syntax) }
        let max: UInt64 = bits == 64 ? UInt64.max : (UInt64(1) << UInt64(bits)) - 1
        var value: UInt64 = 0
        var overflow = false
        // "previous was a digit" (a base prefix counts as one), for the underscore rule.
        var previousDigit = sawPrefix || i == 1
        var lastWasUnderscore = false
        while i < chars.count {
            let c = chars[i]
            i += 1
            if c == UInt8(ascii: "_") {
                if !previousDigit { return .failure(.syntax) }
                previousDigit = false
                lastWasUnderscore = true
                continue
            }
            lastWasUnderscore = false
            let digit: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(c - UInt8(ascii: "A")) + 10
            default: return .failure(.syntax)
            }
            if digit >= base { return .failure(.syntax) }
            previousDigit = true
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (n, o2) = m.addingReportingOverflow(digit)
            if o1 || o2 || n > max { overflow = true } else { value = n }
        }
        if lastWasUnderscore { return .failure(.syntax) }
        return overflow ? .failure(.range) : .success(value)
    }

    /// strconv.ParseInt(s, 0, 64): an optional sign, then `unsigned`'s rules.
    static func signed(_ s: String) -> Result<Int64, GoNumberError> {
        var body = Substring(s)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        switch unsigned(String(body), bits: 64) {
        case .failure(let e): return .failure(e)
        case .success(let magnitude):
            if negative {
                if magnitude > UInt64(Int64.max) + 1 { return .failure(.range) }
                return .success(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
            }
            if magnitude > UInt64(Int64.max) { return .failure(.range) }
            return .success(Int64(magnitude))
        }
    }

    /// strconv.Atoi: base 10 only, optional sign (used for auto-compaction-retention).
    static func decimal(_ s: String) -> Int64? {
        var body = Substring(s)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = Int64(body) else { return nil }
        return negative ? -v : v
    }

    /// time.ParseDuration: "300ms", "-1.5h", "2h45m"; a bare "0" is allowed. Returns nanoseconds.
    public static func duration(_ s: String) -> Int64? {
        var chars = Array(s.utf8)[...]
        var negative = false
        if let first = chars.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            chars = chars.dropFirst()
        }
        if chars.count == 1 && chars.first == UInt8(ascii: "0") { return 0 }
        if chars.isEmpty { return nil }
        var total: Double = 0
        var exact: Int64 = 0
        var exactValid = true
        while !chars.isEmpty {
            // Integer part, optional fraction; at least one digit somewhere.
            var intPart: Int64 = 0
            var intOverflow = false
            var digits = 0
            while let c = chars.first, c >= 48 && c <= 57 {
                let (m, o1) = intPart.multipliedReportingOverflow(by: 10)
                let (n, o2) = m.addingReportingOverflow(Int64(c - 48))
                if o1 || o2 { intOverflow = true } else { intPart = n }
                digits += 1
                chars = chars.dropFirst()
            }
            var fraction: Double = 0
            var scale: Double = 1
            if chars.first == UInt8(ascii: ".") {
                chars = chars.dropFirst()
                while let c = chars.first, c >= 48 && c <= 57 {
                    scale *= 10
                    fraction += Double(c - 48) / scale
                    digits += 1
                    chars = chars.dropFirst()
                }
            }
            if digits == 0 || intOverflow { return nil }
            var unit: [UInt8] = []
            while let c = chars.first, c != UInt8(ascii: "."), !(c >= 48 && c <= 57) {
                unit.append(c)
                chars = chars.dropFirst()
            }
            guard let nanosPerUnit = durationUnits[String(decoding: unit, as: UTF8.self)] else { return nil }
            total += (Double(intPart) + fraction) * Double(nanosPerUnit)
            if fraction == 0, exactValid {
                let (m, o1) = intPart.multipliedReportingOverflow(by: nanosPerUnit)
                let (n, o2) = exact.addingReportingOverflow(m)
                if o1 || o2 { exactValid = false } else { exact = n }
            } else {
                exactValid = false
            }
        }
        if total > Double(Int64.max) { return nil }
        let nanos = exactValid ? exact : Int64(total.rounded(.towardZero))
        return negative ? -nanos : nanos
    }

    private static let durationUnits: [String: Int64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}
