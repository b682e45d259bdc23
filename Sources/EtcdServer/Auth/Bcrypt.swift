import CXCrypt

/// bcrypt through libxcrypt ("$2b$" hashes; it also checks etcd's "$2a$" ones). CPU-heavy by design:
/// callers run it off the event loops.
enum Bcrypt {
    /// bcrypt's own bounds (golang.org/x/crypto/bcrypt's MinCost and MaxCost).
    static let costs = 4...31

    static func hash(_ password: String, cost: Int) -> [UInt8]? {
        precondition(costs.contains(cost))
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        // nil random bytes: libxcrypt draws them from the OS.
        guard crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else { return nil }
        return crypt(password, setting: setting)
    }

    static func verify(_ password: String, hash: [UInt8]) -> Bool {
        guard !hash.isEmpty else { return false }
        let setting = hash.map { CChar(bitPattern: $0) } + [0]
        guard let computed = crypt(password, setting: setting), computed.count == hash.count else { return false }
        // Constant time: the comparison must not tell how much of the hash matched.
        var diff: UInt8 = 0
        for (a, b) in zip(computed, hash) { diff |= a ^ b }
        return diff == 0
    }

    private static func crypt(_ password: String, setting: [CChar]) -> [UInt8]? {
        var data = crypt_data()
        return withUnsafeMutablePointer(to: &data) { d -> [UInt8]? in
            guard let out = crypt_r(password, setting, d) else { return nil }
            let result = Array(String(cString: out).utf8)
            // libxcrypt's failure token starts with '*'.
            return result.first == UInt8(ascii: "*") ? nil : result
        }
    }
}
