import CProtobufC
import EtcdProto

/// Authenticate's request and response (the connection pool signs each connection in).
enum AuthMessages {
    static func authenticate(_ user: String, _ password: String) -> [UInt8] {
        let b = MessageBuilder()
        let m = b.message(etcdserverpb__authenticate_request__init)
        m.pointee.name = b.cString(user)
        m.pointee.password = b.cString(password)
        return withExtendedLifetime(b) { Proto.pack(m) }
    }

    static func token(_ bytes: [UInt8]) throws -> String {
        try Proto.read(bytes, etcdserverpb__authenticate_response__unpack, etcdserverpb__authenticate_response__free_unpacked) {
            Proto.string($0.token)
        }
    }
}
