// protobuf-c struct -> JSON text, reading each field at its descriptor's offset.
// Mirrors jsonpb (golang/protobuf 1.3, used by etcd 3.4's gateway) with OrigName=true and
// EmitDefaults=false: zero scalars, empty strings/bytes/arrays and NULL messages are omitted, a set
// oneof member is printed even when zero, a present but empty message prints as {}.
import CProtobufC

struct JSONWriter {
    var out: [UInt8] = []

    init() { out.reserveCapacity(256) }

    mutating func message(_ m: UnsafeRawPointer, _ d: UnsafePointer<ProtobufCMessageDescriptor>) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for field in fields(d) {
            let at = m + Int(field.offset)
            if field.isRepeated {
                let n = m.load(fromByteOffset: Int(field.quantifier_offset), as: Int.self)
                guard n > 0, let array = at.load(as: UnsafeRawPointer?.self) else { continue }
                key(field.name, &first)
                out.append(UInt8(ascii: "["))
                let stride = elementStride(field.type)
                for i in 0..<n {
                    if i > 0 { out.append(UInt8(ascii: ",")) }
                    value(field, array + i * stride)
                }
                out.append(UInt8(ascii: "]"))
                continue
            }
            guard isPresent(field, m, at) else { continue }
            key(field.name, &first)
            value(field, at)
        }
        out.append(UInt8(ascii: "}"))
    }

    private func isPresent(_ field: ProtobufCFieldDescriptor, _ m: UnsafeRawPointer, _ at: UnsafeRawPointer) -> Bool {
        if field.isOneof {
            // The `*_case` enum (int-sized) names the member that is set.
            return m.load(fromByteOffset: Int(field.quantifier_offset), as: UInt32.self) == field.id
        }
        switch field.type {
        case PROTOBUF_C_TYPE_MESSAGE:
            return at.load(as: UnsafeRawPointer?.self) != nil
        case PROTOBUF_C_TYPE_STRING:
            guard let s = at.load(as: UnsafePointer<CChar>?.self) else { return false }
            return field.label != PROTOBUF_C_LABEL_NONE || s.pointee != 0
        default:
            break
        }
        if field.label == PROTOBUF_C_LABEL_OPTIONAL {
            // proto2 / proto3 `optional`: explicit presence through has_x.
            return m.load(fromByteOffset: Int(field.quantifier_offset), as: Int32.self) != 0
        }
        if field.label == PROTOBUF_C_LABEL_REQUIRED { return true }
        switch field.type {
        case PROTOBUF_C_TYPE_BYTES: return at.load(as: Int.self) != 0   // ProtobufCBinaryData.len
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64,
             PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            return at.load(as: UInt64.self) != 0
        case PROTOBUF_C_TYPE_DOUBLE: return at.load(as: Double.self) != 0
        case PROTOBUF_C_TYPE_FLOAT: return at.load(as: Float.self) != 0
        default: return at.load(as: UInt32.self) != 0   // 32-bit ints, enums, protobuf_c_boolean
        }
    }

    private func elementStride(_ type: ProtobufCType) -> Int {
        switch type {
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64,
             PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_DOUBLE: return 8
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_MESSAGE: return MemoryLayout<UnsafeRawPointer>.stride
        case PROTOBUF_C_TYPE_BYTES: return MemoryLayout<ProtobufCBinaryData>.stride
        default: return 4
        }
    }

    private mutating func key(_ name: UnsafePointer<CChar>, _ first: inout Bool) {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(UInt8(ascii: "\""))
        var p = UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self)
        while p.pointee != 0 { out.append(p.pointee); p += 1 }   // proto names need no escaping
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    private mutating func value(_ field: ProtobufCFieldDescriptor, _ at: UnsafeRawPointer) {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            decimal(Int64(at.load(as: Int32.self)))
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            decimal(UInt64(at.load(as: UInt32.self)), negative: false)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            // 64-bit integers are strings: JavaScript numbers lose precision past 2^53.
            out.append(UInt8(ascii: "\""))
            decimal(at.load(as: Int64.self))
            out.append(UInt8(ascii: "\""))
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            out.append(UInt8(ascii: "\""))
            decimal(at.load(as: UInt64.self), negative: false)
            out.append(UInt8(ascii: "\""))
        case PROTOBUF_C_TYPE_BOOL:
            let word: StaticString = at.load(as: Int32.self) != 0 ? "true" : "false"
            out.append(contentsOf: UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount))
        case PROTOBUF_C_TYPE_ENUM:
            let v = at.load(as: Int32.self)
            let e = field.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)
            if let named = protobuf_c_enum_descriptor_get_value(e, v) {
                string(UnsafeRawPointer(named.pointee.name).assumingMemoryBound(to: UInt8.self),
                       cLength(named.pointee.name))
            } else {
                decimal(Int64(v))   // an undeclared value prints as its number, as jsonpb does
            }
        case PROTOBUF_C_TYPE_STRING:
            if let s = at.load(as: UnsafePointer<CChar>?.self) {
                string(UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), cLength(s))
            } else {
                string(nil, 0)
            }
        case PROTOBUF_C_TYPE_BYTES:
            let b = at.load(as: ProtobufCBinaryData.self)
            base64(b.data, b.len)
        case PROTOBUF_C_TYPE_MESSAGE:
            let sub = at.load(as: UnsafeRawPointer?.self)
            if let sub {
                message(sub, field.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self))
            } else {
                out.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")])   // NULL in a repeated field
            }
        case PROTOBUF_C_TYPE_FLOAT:
            floating(Double(at.load(as: Float.self)), description: "\(at.load(as: Float.self))")
        case PROTOBUF_C_TYPE_DOUBLE:
            floating(at.load(as: Double.self), description: "\(at.load(as: Double.self))")
        default:
            out.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        }
    }

    // MARK: scalars

    private mutating func decimal(_ v: Int64) {
        decimal(v.magnitude, negative: v < 0)
    }

    /// Digits written in place (no String per number).
    private mutating func decimal(_ magnitude: UInt64, negative: Bool) {
        if negative { out.append(UInt8(ascii: "-")) }
        var digits = 1
        var v = magnitude
        while v >= 10 { v /= 10; digits += 1 }
        let end = out.count + digits
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        v = magnitude
        var i = end - 1
        while v > 0 {
            out[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        }
    }

    /// Non-finite values as jsonpb's strings. Finite ones in Swift's shortest round-trip form
    /// (etcd's protos have no float fields, so Go's exact exponent layout is not reproduced).
    private mutating func floating(_ v: Double, description: String) {
        if v.isNaN { return string("NaN") }
        if v.isInfinite { return string(v < 0 ? "-Infinity" : "Infinity") }
        var text = description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    /// Any text as a Go-escaped JSON string (error messages).
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string($0.baseAddress, $0.count) }
    }

    /// Raw bytes appended as they are (punctuation and numbers the caller knows to be valid JSON).
    mutating func raw(_ text: String) { out.append(contentsOf: text.utf8) }

    private mutating func string(_ s: StaticString) {
        string(s.utf8Start, s.utf8CodeUnitCount)
    }

    /// A JSON string escaped as Go's encoding/json does (HTML-safe, U+2028/9, invalid UTF-8 -> U+FFFD).
    mutating func string(_ p: UnsafePointer<UInt8>?, _ n: Int) {
        out.append(UInt8(ascii: "\""))
        var i = 0
        while i < n, let p {
            let c = p[i]
            if c < 0x80 {
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    out.append(UInt8(ascii: "\\")); out.append(c)
                case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
                case 0..<0x20, UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"):
                    unicodeEscape(UInt32(c))
                default: out.append(c)
                }
                i += 1
                continue
            }
            let length = validUTF8Length(p + i, n - i)
            if length == 0 {
                unicodeEscape(0xFFFD)
                i += 1
                continue
            }
            if length == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9) {
                unicodeEscape(p[i + 2] == 0xA8 ? 0x2028 : 0x2029)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: length))
            }
            i += length
        }
        out.append(UInt8(ascii: "\""))
    }

    private mutating func unicodeEscape(_ v: UInt32) {
        let hex: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hex.utf8Start[Int(v >> UInt32(shift) & 0xF)])
        }
    }

    /// Standard alphabet with padding, as Go's []byte JSON encoding.
    private mutating func base64(_ data: UnsafeMutablePointer<UInt8>?, _ n: Int) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let a = alphabet.utf8Start
        out.append(UInt8(ascii: "\""))
        if let data {
            out.reserveCapacity(out.count + (n + 2) / 3 * 4 + 1)
            var i = 0
            while i + 3 <= n {
                let v = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
                out.append(a[Int(v >> 6 & 63)]); out.append(a[Int(v & 63)])
                i += 3
            }
            if n - i == 1 {
                let v = UInt32(data[i]) << 16
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
                out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "="))
            } else if n - i == 2 {
                let v = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8
                out.append(a[Int(v >> 18 & 63)]); out.append(a[Int(v >> 12 & 63)])
                out.append(a[Int(v >> 6 & 63)]); out.append(UInt8(ascii: "="))
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Length of the well-formed UTF-8 sequence at `p` (Go's utf8.DecodeRune rules), 0 if invalid.
private func validUTF8Length(_ p: UnsafePointer<UInt8>, _ available: Int) -> Int {
    let c = p[0]
    let length: Int
    var low: UInt8 = 0x80, high: UInt8 = 0xBF
    switch c {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; low = 0xA0
    case 0xE1...0xEC, 0xEE, 0xEF: length = 3
    case 0xED: length = 3; high = 0x9F          // no surrogates
    case 0xF0: length = 4; low = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; high = 0x8F          // <= U+10FFFF
    default: return 0
    }
    guard available >= length, p[1] >= low, p[1] <= high else { return 0 }
    for k in 2..<length where p[k] & 0xC0 != 0x80 { return 0 }
    return length
}

private func cLength(_ s: UnsafePointer<CChar>) -> Int {
    var n = 0
    while s[n] != 0 { n += 1 }
    return n
}
