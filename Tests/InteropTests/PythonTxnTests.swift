import Testing

/// Txn shapes etcdctl cannot express: range compares, nested txns, every compare target and
/// result, and the validation errors for them, sent as raw TxnRequests.
@Suite struct PythonTxnTests {
    @Test func rawTxnRequestsMatchEtcd() throws {
        let pair = try SideBySide(label: "pytxn")
        try pair.python(
            """
            import grpc
            from google.protobuf.json_format import MessageToDict
            R = etcdrpc.Compare
            def txn(compare=(), success=(), failure=()):
                request = etcdrpc.TxnRequest(compare=list(compare), success=list(success), failure=list(failure))
                try:
                    out(MessageToDict(c.kvstub.Txn(request, c.timeout), preserving_proto_field_name=True))
                except grpc.RpcError as error:
                    out({"code": str(error.code()), "details": error.details()})
            def put(key, value): return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=key, value=value, prev_kv=True))
            def get(key, end=b""): return etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=key, range_end=end))
            def delete(key, end=b""): return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=key, range_end=end, prev_kv=True))
            def nested(**f): return etcdrpc.RequestOp(request_txn=etcdrpc.TxnRequest(**f))
            def cmp(key, target, result, end=b"", **value): return R(key=key, range_end=end, target=target, result=result, **value)
            for i in range(4): c.put("k%d" % i, "v%d" % i)
            txn([cmp(b"k0", R.VALUE, R.EQUAL, value=b"v0")], [put(b"k0", b"w0"), get(b"k", b"l")], [put(b"no", b"1")])
            txn([cmp(b"k", R.VERSION, R.GREATER, end=b"l", version=0)], [get(b"k1")], [get(b"k2")])
            txn([cmp(b"k", R.MOD, R.LESS, end=b"l", mod_revision=4)], [get(b"k1")], [get(b"k2")])
            txn([cmp(b"k1", R.CREATE, R.NOT_EQUAL, create_revision=3)], [delete(b"k1")], [delete(b"k", b"l")])
            txn([cmp(b"absent", R.VERSION, R.EQUAL, version=0)], [nested(
                compare=[cmp(b"k2", R.VALUE, R.GREATER, value=b"v")],
                success=[put(b"inner", b"yes"), get(b"inner")], failure=[put(b"inner", b"no")])])
            txn([], [put(b"a", b"1"), put(b"b", b"2"), delete(b"c"), get(b"\\0", b"\\0")])
            txn([], [put(b"dup", b"1"), put(b"dup", b"2")])
            txn([], [put(b"dup", b"1"), delete(b"d", b"e")])
            txn([], [put(b"dup", b"1"), nested(success=[put(b"dup", b"2")])])
            txn([], [put(b"dup", b"1")], [put(b"dup", b"2")])
            txn([cmp(b"", R.VALUE, R.EQUAL, value=b"")], [get(b"k2")])
            txn([], [get(b"k2")] * 129)
            txn([], [get(b"k", b"l")] * 3)
            """)
    }
}
