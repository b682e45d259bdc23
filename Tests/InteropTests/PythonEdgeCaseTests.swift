import Testing

/// Byte-level edge cases only a library client can send conveniently (binary keys, empty and
/// large values, an oversized request), plus the gRPC status etcd answers for bad requests.
@Suite struct PythonEdgeCaseTests {
    @Test func binaryKeysLargeValuesAndStatusCodesMatchEtcd() throws {
        let pair = try SideBySide(label: "pyedge")
        try pair.python(
            """
            import base64, grpc
            from google.protobuf.json_format import MessageToDict
            def call(method, request):
                try:
                    out(MessageToDict(method(request, c.timeout), preserving_proto_field_name=True))
                except grpc.RpcError as error:
                    out({"code": str(error.code()), "details": error.details()})
            put = lambda **f: call(c.kvstub.Put, etcdrpc.PutRequest(**f))
            rng = lambda **f: call(c.kvstub.Range, etcdrpc.RangeRequest(**f))
            put(key=b"\\x00", value=b"nul key")
            put(key=b"\\xff\\xfe", value=b"\\x00\\x01\\x02")
            put(key=b"empty", value=b"")
            put(key=b"big", value=b"v" * (1024 * 1024))
            put(key=b"over", value=b"v" * (2 * 1024 * 1024))
            rng(key=b"\\x00", range_end=b"\\x00", keys_only=True)
            rng(key=b"\\xff", range_end=b"\\x00")
            rng(key=b"empty")
            rng(key=b"big", count_only=True)
            rng(key=b"\\x00", range_end=b"\\x00", sort_target=etcdrpc.RangeRequest.VALUE,
                sort_order=etcdrpc.RangeRequest.ASCEND, keys_only=True)
            rng(key=b"")
            rng(key=b"a", revision=-1)
            rng(key=b"a", range_end=b"\\x00", limit=-1)
            put(key=b"")
            call(c.kvstub.DeleteRange, etcdrpc.DeleteRangeRequest(key=b""))
            call(c.kvstub.DeleteRange, etcdrpc.DeleteRangeRequest(key=b"\\xff", range_end=b"\\x00", prev_kv=True))
            call(c.kvstub.Compact, etcdrpc.CompactionRequest(revision=0))
            call(c.kvstub.Compact, etcdrpc.CompactionRequest(revision=3))
            call(c.kvstub.Compact, etcdrpc.CompactionRequest(revision=100))
            rng(key=b"\\x00", revision=2)
            """)
    }
}
