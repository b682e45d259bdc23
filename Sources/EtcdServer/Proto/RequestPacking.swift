import CProtobufC
import EtcdProto

/// The client-side requests our own tools send (keel-bench, the interop and durability tests), packed
/// once here rather than re-spelled with pointer scopes at every caller.
public enum RequestPacking {
    /// etcdserverpb.PutRequest{key, value}.
    public static func put(key: [UInt8], value: [UInt8]) -> [UInt8] {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__PutRequest()
        etcdserverpb__put_request__init(&request)
        request.key = arena.binary(key)
        request.value = arena.binary(value)
        return withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
    }

    /// etcdserverpb.RangeRequest{key, range_end, serializable}.
    public static func range(key: [UInt8], rangeEnd: [UInt8] = [], serializable: Bool = false) -> [UInt8] {
        let arena = ProtoArena(chunkBytes: 256)
        var request = Etcdserverpb__RangeRequest()
        etcdserverpb__range_request__init(&request)
        request.key = arena.binary(key)
        request.range_end = arena.binary(rangeEnd)
        request.serializable = serializable ? 1 : 0
        return withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
    }
}
