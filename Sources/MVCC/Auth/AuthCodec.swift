/// authpb.User and authpb.Role in protobuf wire format, as etcd stores them in its authUsers and
/// authRoles buckets (so a backend holds the same bytes etcd's would).
enum AuthCodec {
    // authpb.User: name = 1, password = 2, roles = 3 (repeated), options = 4 { no_password = 1 }.
    static func encode(_ u: AuthUser) -> [UInt8] {
        var out: [UInt8] = []
        field(1, Array(u.name.utf8), &out)
        if !u.password.isEmpty { field(2, u.password, &out) }
        for r in u.roles { field(3, Array(r.utf8), &out) }
        if u.noPassword { field(4, [1 << 3, 1], &out) }
        return out
    }

    // authpb.Role: name = 1, keyPermission = 2 (repeated Permission { permType = 1, key = 2, range_end = 3 }).
    static func encode(_ r: AuthRole) -> [UInt8] {
        var out: [UInt8] = []
        field(1, Array(r.name.utf8), &out)
        for p in r.permissions {
            var perm: [UInt8] = []
            if p.kind != .read { varint(1 << 3, &perm); varint(UInt64(p.kind.rawValue), &perm) }
            if !p.key.isEmpty { field(2, p.key, &perm) }
            if !p.rangeEnd.isEmpty { field(3, p.rangeEnd, &perm) }
            field(2, perm, &out)
        }
        return out
    }

    static func decodeUser(_ bytes: [UInt8]) throws -> AuthUser {
        var u = AuthUser(name: "", password: [])
        try fields(bytes) { number, value in
            switch (number, value) {
            case (1, .bytes(let b)): u.name = String(decoding: b, as: UTF8.self)
            case (2, .bytes(let b)): u.password = b
            case (3, .bytes(let b)): u.roles.append(String(decoding: b, as: UTF8.self))
            case (4, .bytes(let b)):
                try fields(b) { n, v in if n == 1, case .varint(let x) = v { u.noPassword = x != 0 } }
            default: break
            }
        }
        return u
    }

    static func decodeRole(_ bytes: [UInt8]) throws -> AuthRole {
        var r = AuthRole(name: "")
        try fields(bytes) { number, value in
            switch (number, value) {
            case (1, .bytes(let b)): r.name = String(decoding: b, as: UTF8.self)
            case (2, .bytes(let b)):
                var p = AuthPermission(kind: .read, key: [], rangeEnd: [])
                try fields(b) { n, v in
                    switch (n, v) {
                    case (1, .varint(let x)): p.kind = AuthPermission.Kind(rawValue: Int32(truncatingIfNeeded: x)) ?? .read
                    case (2, .bytes(let k)): p.key = k
                    case (3, .bytes(let e)): p.rangeEnd = e
                    default: break
                    }
                }
                r.permissions.append(p)
            default: break
            }
        }
        return r
    }

    // MARK: Wire format

    private static func varint(_ value: UInt64, _ out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    private static func field(_ number: UInt64, _ bytes: [UInt8], _ out: inout [UInt8]) {
        varint(number << 3 | 2, &out)
        varint(UInt64(bytes.count), &out)
        out.append(contentsOf: bytes)
    }

    private enum Value { case varint(UInt64), bytes([UInt8]) }

    private static func fields(_ bytes: [UInt8], _ body: (UInt64, Value) throws -> Void) throws {
        var i = 0
        func readVarint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw EtcdError.backendFailure("malformed auth record") }
                let b = bytes[i]
                i += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
            }
        }
        while i < bytes.count {
            let tag = try readVarint()
            switch tag & 7 {
            case 0: try body(tag >> 3, .varint(try readVarint()))
            case 2:
                let n = Int(try readVarint())
                guard n <= bytes.count - i else { throw EtcdError.backendFailure("malformed auth record") }
                try body(tag >> 3, .bytes(Array(bytes[i..<i + n])))
                i += n
            default: throw EtcdError.backendFailure("malformed auth record")
            }
        }
    }
}
