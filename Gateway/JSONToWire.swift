// JSON text -> protobuf wire bytes, one pass, guided by protobuf-c field descriptors.
// A hand-written scanner: Foundation's JSONSerialization goes through `Any` and Double, which
// loses int64 exactness and allocates per value. Nesting is bounded by `maxDepth` before recursing.
import CProtobufC

private enum PathElement {
    case field(UnsafePointer<CChar>)
    case key(Int, Int)      // an unknown key, as a range of the input
    case index(Int)
}

struct JSONToWire {
    private let base: UnsafePointer<UInt8>?
    private let count: Int
    private let limits: ProtoJSONLimits
    private var pos = 0
    private var depth = 0
    private var elements = 0
    private var path: [PathElement] = []
    /// Unescaped string contents when a string has backslashes (reused; rare).
    private var scratch: [UInt8] = []
    var out: [UInt8] = []
    /// Far below what the 512 KiB stacks of secondary threads hold (a few hundred bytes per level).
    static let depthCeiling = 512

    init(_ json: UnsafeRawBufferPointer, _ limits: ProtoJSONLimits) {
        base = json.baseAddress?.assumingMemoryBound(to: UInt8.self)
        count = json.count
        self.limits = limits
    }

    // MARK: input access (0 past the end: never a valid byte where it is tested)

    @inline(__always) private func at(_ i: Int) -> UInt8 { i < count ? base.unsafelyUnwrapped[i] : 0 }

    @inline(__always) private mutating func skipSpace() {
        while pos < count {
            let c = base.unsafelyUnwrapped[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    // MARK: errors

    private func fail(_ kind: ProtoJSONError.Kind, _ message: String, at offset: Int? = nil) -> ProtoJSONError {
        var text = ""
        for element in path {
            switch element {
            case .field(let name):
                if !text.isEmpty { text += "." }
                text += String(cString: name)
            case .key(let start, let length):
                if !text.isEmpty { text += "." }
                text += String(decoding: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: length), as: UTF8.self)
            case .index(let i):
                text += "[\(i)]"
            }
        }
        return ProtoJSONError(kind: kind, path: text, message: message, offset: offset ?? pos)
    }

    private func syntax(_ expected: String) -> ProtoJSONError {
        if pos >= count { return fail(.syntax, "unexpected end of JSON input") }
        return fail(.syntax, "invalid character \(describe(at(pos))) \(expected)")
    }

    private func describe(_ c: UInt8) -> String {
        (0x20..<0x7F).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "0x" + String(c, radix: 16)
    }

    // MARK: structure

    mutating func document(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(ProtoJSONError) {
        if count > limits.maxBodyBytes {
            throw fail(.limit, "body of \(count) bytes exceeds the limit of \(limits.maxBodyBytes)", at: 0)
        }
        out.reserveCapacity(count)
        path.reserveCapacity(min(limits.maxDepth, 64) + 1)
        skipSpace()
        if pos == count { return }
        if try literal("null") { } else { try object(descriptor) }
        skipSpace()
        if pos != count { throw fail(.syntax, "invalid character \(describe(at(pos))) after top-level value") }
    }

    /// The first JSON value of a sequence (`{…}{…}` or whitespace-separated, as Go's json.Decoder reads a
    /// stream), into `out`; returns the bytes consumed, or nil when only whitespace remains.
    mutating func leadingDocument(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(ProtoJSONError) -> Int? {
        skipSpace()
        if pos == count { return nil }
        if try literal("null") { } else { try object(descriptor) }
        return pos
    }

    private mutating func enter() throws(ProtoJSONError) {
        depth += 1
        // Capped whatever the configuration says: each level is a stack frame of this recursion.
        let maximum = min(limits.maxDepth, JSONToWire.depthCeiling)
        if depth > maximum { throw fail(.limit, "nesting deeper than \(maximum)") }
    }

    private mutating func countElement() throws(ProtoJSONError) {
        elements += 1
        if elements > limits.maxElements { throw fail(.limit, "more than \(limits.maxElements) values") }
    }

    /// `{ "name": value, ... }` of a message; fields are appended to `out` in input order.
    private mutating func object(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws(ProtoJSONError) {
        guard at(pos) == UInt8(ascii: "{") else { throw fail(.type, "expected an object") }
        try members { this, keyStart, keyEnd, keyEscaped throws(ProtoJSONError) in
            var field: UnsafePointer<ProtobufCFieldDescriptor>?
            if keyEscaped {
                // Rare: a key spelled with escapes is matched after unescaping, as Go does.
                this.scratch.removeAll(keepingCapacity: true)
                this.unescape(keyStart, keyEnd, into: &this.scratch)
                field = this.findField(descriptor, this.count, this.count + this.scratch.count)
                this.finishStringContent()
            } else {
                field = this.findField(descriptor, keyStart, keyEnd)
            }
            if let field {
                this.path.append(.field(field.pointee.name))
                try this.fieldValue(field)
            } else {
                // Unknown fields are skipped, as etcd's gateway does.
                this.path.append(.key(keyStart, keyEnd - keyStart))
                try this.skipValue()
            }
            this.path.removeLast()
        }
    }

    /// Walks `{ "key": value, ... }` at `pos` (which is `{`) within the depth and element bounds; `body`
    /// gets the key's bytes (`[keyStart, keyEnd)`, escaped or not) with `pos` at its value, and must
    /// consume the value.
    private mutating func members(
        _ body: (inout JSONToWire, Int, Int, Bool) throws(ProtoJSONError) -> Void
    ) throws(ProtoJSONError) {
        try enter()
        pos += 1
        skipSpace()
        if at(pos) == UInt8(ascii: "}") { pos += 1; depth -= 1; return }
        while true {
            skipSpace()
            guard at(pos) == UInt8(ascii: "\"") else { throw syntax("looking for beginning of object key string") }
            let keyStart = pos + 1
            let keyEscaped = try scanString()
            let keyEnd = pos - 1
            skipSpace()
            guard at(pos) == UInt8(ascii: ":") else { throw syntax("after object key") }
            pos += 1
            skipSpace()
            try countElement()
            try body(&self, keyStart, keyEnd, keyEscaped)
            if try !another(UInt8(ascii: "}"), "after object key:value pair") { break }
        }
        depth -= 1
    }

    /// Walks `[ value, ... ]` at `pos` (which is `[`) within the bounds; `body` gets each element's
    /// index with `pos` at it, and must consume it.
    private mutating func elements(_ body: (inout JSONToWire, Int) throws(ProtoJSONError) -> Void) throws(ProtoJSONError) {
        try enter()
        pos += 1
        skipSpace()
        if at(pos) == UInt8(ascii: "]") { pos += 1; depth -= 1; return }
        var index = 0
        while true {
            skipSpace()
            try countElement()
            try body(&self, index)
            index += 1
            if try !another(UInt8(ascii: "]"), "after array element") { break }
        }
        depth -= 1
    }

    /// After an object member or array element: true when "," says another follows, false at `close`.
    private mutating func another(_ close: UInt8, _ what: String) throws(ProtoJSONError) -> Bool {
        skipSpace()
        let c = at(pos)
        pos += 1
        if c == UInt8(ascii: ",") { return true }
        if c == close { return false }
        pos -= 1
        throw syntax(what)
    }

    private mutating func fieldValue(_ field: UnsafePointer<ProtobufCFieldDescriptor>) throws(ProtoJSONError) {
        if try literal("null") { return }   // null is the default: nothing on the wire
        guard field.pointee.isRepeated else { return try singular(field) }
        guard at(pos) == UInt8(ascii: "[") else { throw fail(.type, "expected an array") }
        try elements { this, index throws(ProtoJSONError) in
            this.path.append(.index(index))
            if this.at(this.pos) == UInt8(ascii: "n") {
                throw this.fail(.type, "null is not allowed in a repeated field")
            }
            try this.singular(field)
            this.path.removeLast()
        }
    }

    /// One value of a field, written with its tag.
    private mutating func singular(_ field: UnsafePointer<ProtobufCFieldDescriptor>) throws(ProtoJSONError) {
        let id = field.pointee.id
        let type = field.pointee.type
        switch type {
        case PROTOBUF_C_TYPE_MESSAGE:
            guard at(pos) == UInt8(ascii: "{") else { throw fail(.type, "expected an object") }
            tag(id, 2)
            let mark = out.count
            out.append(0)
            try object(field.pointee.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self))
            closeLength(mark)
        case PROTOBUF_C_TYPE_STRING:
            let (start, end) = try stringContent()
            tag(id, 2)
            varint(UInt64(end - start))
            appendInput(start, end)
            finishStringContent()
        case PROTOBUF_C_TYPE_BYTES:
            try bytesValue(id)
        case PROTOBUF_C_TYPE_BOOL:
            let value: UInt64
            if try literal("true") { value = 1 } else if try literal("false") { value = 0 } else {
                throw fail(.type, "expected true or false")
            }
            tag(id, 0)
            varint(value)
        case PROTOBUF_C_TYPE_ENUM:
            tag(id, 0)
            varint(UInt64(bitPattern: Int64(try enumValue(field))))
        case PROTOBUF_C_TYPE_FLOAT, PROTOBUF_C_TYPE_DOUBLE:
            let value = try floatingValue()
            if type == PROTOBUF_C_TYPE_FLOAT {
                let f = Float(value)
                if f.isInfinite && value.isFinite { throw fail(.value, "number out of range for float") }
                tag(id, 5)
                fixed32(f.bitPattern)
            } else {
                tag(id, 1)
                fixed64(value.bitPattern)
            }
        default:
            try integer(field)
        }
    }

    // MARK: scalars

    private mutating func integer(_ field: UnsafePointer<ProtobufCFieldDescriptor>) throws(ProtoJSONError) {
        let type = field.pointee.type
        let valueStart = pos
        let start: Int, end: Int
        if at(pos) == UInt8(ascii: "\"") {
            // 64-bit integers come as strings; proto3 JSON allows strings for every integer type.
            if try scanString() { pos = valueStart; throw fail(.type, "expected an integer") }
            start = valueStart + 1; end = pos - 1
        } else {
            guard let (s, e) = try number() else { throw fail(.type, "expected an integer") }
            start = s; end = e
        }
        let negative = at(start) == UInt8(ascii: "-")
        var i = negative ? start + 1 : start
        // JSON number grammar, integers only (etcd's gateway rejects 1.5 and 1e2 for int64 too).
        guard i < end, isDigit(at(i)), !(at(i) == UInt8(ascii: "0") && i + 1 < end) else {
            pos = valueStart
            throw fail(.value, "invalid integer \(literalText(start, end))")
        }
        var magnitude: UInt64 = 0
        while i < end {
            let c = at(i)
            guard isDigit(c) else { pos = valueStart; throw fail(.value, "invalid integer \(literalText(start, end))") }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(c - 0x30))
            if o1 || o2 { pos = valueStart; throw fail(.value, "integer \(literalText(start, end)) out of range") }
            magnitude = m2
            i += 1
        }
        let (lo, hi): (Int64, UInt64)
        let wire: UInt8
        switch type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32: (lo, hi, wire) = (Int64(Int32.min), UInt64(Int32.max), 0)
        case PROTOBUF_C_TYPE_SFIXED32: (lo, hi, wire) = (Int64(Int32.min), UInt64(Int32.max), 5)
        case PROTOBUF_C_TYPE_UINT32: (lo, hi, wire) = (0, UInt64(UInt32.max), 0)
        case PROTOBUF_C_TYPE_FIXED32: (lo, hi, wire) = (0, UInt64(UInt32.max), 5)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64: (lo, hi, wire) = (Int64.min, UInt64(Int64.max), 0)
        case PROTOBUF_C_TYPE_SFIXED64: (lo, hi, wire) = (Int64.min, UInt64(Int64.max), 1)
        case PROTOBUF_C_TYPE_UINT64: (lo, hi, wire) = (0, UInt64.max, 0)
        case PROTOBUF_C_TYPE_FIXED64: (lo, hi, wire) = (0, UInt64.max, 1)
        default: throw fail(.type, "unsupported field type")
        }
        let inRange = negative ? magnitude <= lo.magnitude : magnitude <= hi
        guard inRange else { pos = valueStart; throw fail(.value, "integer \(literalText(start, end)) out of range") }
        // Two's complement of the value, as the wire carries it.
        let bits: UInt64 = negative ? 0 &- magnitude : magnitude
        tag(field.pointee.id, wire)
        switch type {
        case PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SINT64:
            let v = Int64(bitPattern: bits)
            varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
        case PROTOBUF_C_TYPE_SFIXED32, PROTOBUF_C_TYPE_FIXED32: fixed32(UInt32(truncatingIfNeeded: bits))
        case PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_FIXED64: fixed64(bits)
        default: varint(bits)   // int32 negatives are sign-extended to 10 bytes, as the wire format says
        }
    }

    private mutating func enumValue(_ field: UnsafePointer<ProtobufCFieldDescriptor>) throws(ProtoJSONError) -> Int32 {
        let e = field.pointee.descriptor.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)
        if at(pos) == UInt8(ascii: "\"") {
            let valueStart = pos
            let (start, end) = try stringContent()
            defer { finishStringContent() }
            let values = UnsafeBufferPointer(start: e.pointee.values, count: Int(e.pointee.n_values))
            for v in values where equalsC(v.name, start, end) { return v.value }
            let name = contentText(start, end)
            pos = valueStart
            throw fail(.value, "unknown value \"\(name)\" for enum \(String(cString: e.pointee.name))")
        }
        // Numbers are accepted even when not declared: proto3 enums are open.
        let valueStart = pos
        guard let (start, end) = try number() else { throw fail(.type, "expected an enum name or number") }
        var value: Int64 = 0
        var i = start
        let negative = at(i) == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < end, !(at(i) == UInt8(ascii: "0") && i + 1 < end) else {
            pos = valueStart; throw fail(.value, "invalid enum number \(literalText(start, end))")
        }
        while i < end {
            guard isDigit(at(i)), value <= Int64(Int32.max) + 1 else {
                pos = valueStart; throw fail(.value, "invalid enum number \(literalText(start, end))")
            }
            value = value * 10 + Int64(at(i) - 0x30)
            i += 1
        }
        if negative { value = -value }
        guard value >= Int64(Int32.min), value <= Int64(Int32.max) else {
            pos = valueStart; throw fail(.value, "enum number \(literalText(start, end)) out of range")
        }
        return Int32(value)
    }

    private mutating func floatingValue() throws(ProtoJSONError) -> Double {
        let valueStart = pos
        let text: String
        if at(pos) == UInt8(ascii: "\"") {
            let (start, end) = try stringContent()
            text = contentText(start, end)
            finishStringContent()
            switch text {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: break
            }
        } else {
            guard let (start, end) = try number() else { throw fail(.type, "expected a number") }
            text = literalText(start, end)
        }
        guard let value = Double(text), value.isFinite else { pos = valueStart; throw fail(.value, "invalid number \(text)") }
        return value
    }

    /// Base64 (standard or URL-safe, padded or not) of a JSON string, written as a bytes field.
    private mutating func bytesValue(_ id: UInt32) throws(ProtoJSONError) {
        guard at(pos) == UInt8(ascii: "\"") else { throw fail(.type, "expected a base64 string") }
        let valueStart = pos
        let (start, end) = try stringContent()
        defer { finishStringContent() }
        var n = end - start
        var padding = 0
        while n > 0 && padding < 2 && byteAt(start + n - 1) == UInt8(ascii: "=") { n -= 1; padding += 1 }
        // Characters first, so the error names the first bad one (as Go's does).
        for i in 0..<n where base64Value(byteAt(start + i)) == 0xFF {
            pos = valueStart
            throw fail(.value, "invalid base64: illegal character \(describe(byteAt(start + i))) at index \(i)")
        }
        let decodedCount = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1)
        let badLength = n % 4 == 1 || (padding > 0 && (n + padding) % 4 != 0)
        if badLength {
            pos = valueStart
            throw fail(.value, "invalid base64: bad length \(end - start)")
        }
        tag(id, 2)
        varint(UInt64(decodedCount))
        let first = out.count
        out.append(contentsOf: repeatElement(0, count: decodedCount))
        let fromInput = start < count
        out.withUnsafeMutableBufferPointer { dst in
            if fromInput {
                decodeBase64(base.unsafelyUnwrapped + start, n, into: dst.baseAddress! + first)
            } else {
                scratch.withUnsafeBufferPointer { decodeBase64($0.baseAddress!, n, into: dst.baseAddress! + first) }
            }
        }
    }

    // MARK: strings

    /// Moves past a string starting at `pos` (a quote), validating it; true if it has escapes.
    private mutating func scanString() throws(ProtoJSONError) -> Bool {
        pos += 1
        var escaped = false
        while true {
            guard pos < count else { throw fail(.syntax, "unexpected end of JSON input") }
            let c = base.unsafelyUnwrapped[pos]
            if c == UInt8(ascii: "\"") { pos += 1; return escaped }
            if c < 0x20 { throw fail(.syntax, "invalid character \(describe(c)) in string literal") }
            if c == UInt8(ascii: "\\") {
                escaped = true
                pos += 1
                switch at(pos) {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    for k in 1...4 where hexValue(at(pos + k)) == nil {
                        pos += k
                        throw pos >= count ? fail(.syntax, "unexpected end of JSON input")
                            : fail(.syntax, "invalid character \(describe(at(pos))) in \\u hexadecimal character escape")
                    }
                    pos += 4
                default:
                    throw pos >= count ? fail(.syntax, "unexpected end of JSON input")
                        : fail(.syntax, "invalid character \(describe(at(pos))) in string escape code")
                }
            }
            pos += 1
        }
    }

    /// Where the content of the string at `pos` is, after scanning it: a range of the input, or
    /// (when it has escapes) of `scratch` offset by `count` so `byteAt`/`appendInput` read either.
    private mutating func stringContent() throws(ProtoJSONError) -> (Int, Int) {
        guard at(pos) == UInt8(ascii: "\"") else { throw fail(.type, "expected a string") }
        let start = pos + 1
        if try !scanString() { return (start, pos - 1) }
        scratch.removeAll(keepingCapacity: true)
        unescape(start, pos - 1, into: &scratch)
        return (count, count + scratch.count)
    }

    private mutating func finishStringContent() {
        if scratch.count > 4096 { scratch = [] } else { scratch.removeAll(keepingCapacity: true) }
    }

    @inline(__always) private func byteAt(_ i: Int) -> UInt8 {
        i < count ? base.unsafelyUnwrapped[i] : scratch[i - count]
    }

    /// Text of string content (diagnostics and float parsing only).
    private func contentText(_ start: Int, _ end: Int) -> String {
        if start < count {
            return String(decoding: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: end - start), as: UTF8.self)
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    private mutating func appendInput(_ start: Int, _ end: Int) {
        if start < count {
            out.append(contentsOf: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: end - start))
        } else {
            out.append(contentsOf: scratch)
        }
    }

    /// Decodes escapes of an already validated string body. Lone surrogates become U+FFFD, as in Go.
    private func unescape(_ start: Int, _ end: Int, into buffer: inout [UInt8]) {
        var i = start
        while i < end {
            let c = base.unsafelyUnwrapped[i]
            guard c == UInt8(ascii: "\\") else { buffer.append(c); i += 1; continue }
            let e = base.unsafelyUnwrapped[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= end,
                   base.unsafelyUnwrapped[i] == UInt8(ascii: "\\"), base.unsafelyUnwrapped[i + 1] == UInt8(ascii: "u") {
                    let low = hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                if (0xD800..<0xE000).contains(scalar) { scalar = 0xFFFD }
                for unit in UTF8.encode(Unicode.Scalar(scalar)!)! { buffer.append(unit) }
            default: buffer.append(e)   // \" \\ \/
            }
        }
    }

    private func hex4(_ i: Int) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | UInt32(hexValue(base.unsafelyUnwrapped[i + k])!) }
        return v
    }

    // MARK: other tokens

    /// Consumes `word` if it is next (a JSON literal).
    private mutating func literal(_ word: StaticString) throws(ProtoJSONError) -> Bool {
        let w = word.utf8Start
        guard at(pos) == w[0] else { return false }
        for k in 1..<word.utf8CodeUnitCount where at(pos + k) != w[k] {
            pos += k
            throw syntax("in literal \(word)")
        }
        pos += word.utf8CodeUnitCount
        return true
    }

    /// A JSON number token at `pos` (validated), or nil if the next value is not a number.
    private mutating func number() throws(ProtoJSONError) -> (Int, Int)? {
        let start = pos
        var i = pos
        if at(i) == UInt8(ascii: "-") { i += 1 }
        guard isDigit(at(i)) else {
            if i == start { return nil }
            pos = i; throw syntax("in numeric literal")
        }
        if at(i) == UInt8(ascii: "0") { i += 1 } else { while isDigit(at(i)) { i += 1 } }
        if at(i) == UInt8(ascii: ".") {
            i += 1
            guard isDigit(at(i)) else { pos = i; throw syntax("after decimal point in numeric literal") }
            while isDigit(at(i)) { i += 1 }
        }
        if at(i) == UInt8(ascii: "e") || at(i) == UInt8(ascii: "E") {
            i += 1
            if at(i) == UInt8(ascii: "+") || at(i) == UInt8(ascii: "-") { i += 1 }
            guard isDigit(at(i)) else { pos = i; throw syntax("in exponent of numeric literal") }
            while isDigit(at(i)) { i += 1 }
        }
        pos = i
        return (start, i)
    }

    /// Skips any JSON value (of an unknown field), validating it, within the depth bound.
    private mutating func skipValue() throws(ProtoJSONError) {
        switch at(pos) {
        case UInt8(ascii: "\""): _ = try scanString()
        case UInt8(ascii: "{"):
            try members { this, _, _, _ throws(ProtoJSONError) in try this.skipValue() }
        case UInt8(ascii: "["):
            try elements { this, _ throws(ProtoJSONError) in try this.skipValue() }
        case UInt8(ascii: "t"): if try !literal("true") { throw syntax("looking for beginning of value") }
        case UInt8(ascii: "f"): if try !literal("false") { throw syntax("looking for beginning of value") }
        case UInt8(ascii: "n"): if try !literal("null") { throw syntax("looking for beginning of value") }
        default:
            if try number() == nil { throw syntax("looking for beginning of value") }
        }
    }

    private func literalText(_ start: Int, _ end: Int) -> String {
        let shown = min(end - start, 40)   // huge numbers are cut in messages
        var text = String(decoding: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: shown), as: UTF8.self)
        if shown < end - start { text += "…" }
        return text
    }

    // MARK: field lookup

    /// The field named by the key: its proto name (`request_put`) or lowerCamelCase (`requestPut`).
    private func findField(_ d: UnsafePointer<ProtobufCMessageDescriptor>, _ start: Int,
                           _ end: Int) -> UnsafePointer<ProtobufCFieldDescriptor>? {
        let all = fields(d)
        for i in all.indices where equalsC(all[i].name, start, end) || equalsCamel(all[i].name, start, end) {
            return all.baseAddress! + i
        }
        return nil
    }

    private func equalsC(_ name: UnsafePointer<CChar>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        var p = UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self)
        while p.pointee != 0 {
            if i >= end || byteAt(i) != p.pointee { return false }
            i += 1; p += 1
        }
        return i == end
    }

    /// protoc's json_name rule: drop `_`, upper-case the letter after it.
    private func equalsCamel(_ name: UnsafePointer<CChar>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        var p = UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self)
        var upper = false
        var sawUnderscore = false
        while p.pointee != 0 {
            var c = p.pointee
            p += 1
            if c == UInt8(ascii: "_") { upper = true; sawUnderscore = true; continue }
            if upper, c >= UInt8(ascii: "a"), c <= UInt8(ascii: "z") { c -= 32 }
            upper = false
            if i >= end || byteAt(i) != c { return false }
            i += 1
        }
        return sawUnderscore && i == end
    }

    // MARK: wire output

    @inline(__always) private mutating func tag(_ id: UInt32, _ wire: UInt8) {
        varint(UInt64(id) << 3 | UInt64(wire))
    }

    @inline(__always) private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    private mutating func fixed32(_ v: UInt32) {
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> UInt32(8 * k))) }
    }

    private mutating func fixed64(_ v: UInt64) {
        for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * k))) }
    }

    /// A nested message was written after a one-byte length at `mark`: fill the length in, widening
    /// it (and moving the content) only when the message is 128 bytes or more.
    private mutating func closeLength(_ mark: Int) {
        let length = out.count - mark - 1
        if length < 0x80 { out[mark] = UInt8(length); return }
        var size = 1
        var v = length
        while v >= 0x80 { v >>= 7; size += 1 }
        out.insert(contentsOf: repeatElement(0, count: size - 1), at: mark + 1)
        v = length
        for k in 0..<size {
            out[mark + k] = UInt8(truncatingIfNeeded: v) | (k < size - 1 ? 0x80 : 0)
            v >>= 7
        }
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - 0x30
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Both alphabets at once (standard `+/` and URL-safe `-_`); 0xFF for anything else.
@inline(__always) private func base64Value(_ c: UInt8) -> UInt8 {
    switch c {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
    case UInt8(ascii: "+"), UInt8(ascii: "-"): return 62
    case UInt8(ascii: "/"), UInt8(ascii: "_"): return 63
    default: return 0xFF
    }
}

/// Decodes `n` validated base64 characters (no padding) into exactly n*3/4 bytes at `dst`.
private func decodeBase64(_ src: UnsafePointer<UInt8>, _ n: Int, into dst: UnsafeMutablePointer<UInt8>) {
    var i = 0, o = 0
    while i + 4 <= n {
        let v = UInt32(base64Value(src[i])) << 18 | UInt32(base64Value(src[i + 1])) << 12
            | UInt32(base64Value(src[i + 2])) << 6 | UInt32(base64Value(src[i + 3]))
        dst[o] = UInt8(truncatingIfNeeded: v >> 16)
        dst[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
        dst[o + 2] = UInt8(truncatingIfNeeded: v)
        i += 4; o += 3
    }
    let rest = n - i
    if rest >= 2 {
        var v = UInt32(base64Value(src[i])) << 18 | UInt32(base64Value(src[i + 1])) << 12
        if rest == 3 { v |= UInt32(base64Value(src[i + 2])) << 6 }
        dst[o] = UInt8(truncatingIfNeeded: v >> 16)
        if rest == 3 { dst[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
    }
}
