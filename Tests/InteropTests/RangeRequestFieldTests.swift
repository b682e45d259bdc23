import Testing

/// RangeRequest fields etcdctl 3.4 has no flags for (`--count-only`, `--min/max-mod-rev`,
/// `--min/max-create-rev` arrived in etcdctl 3.5), sent with python3-etcd3's generated gRPC stub.
@Suite struct RangeRequestFieldTests {
    @Test func countOnlyAndRevisionFiltersMatchEtcd() throws {
        let pair = try SideBySide(label: "range")
        try pair.seed()
        try pair.python(
            """
            from google.protobuf.json_format import MessageToDict
            def rng(**fields):
                request = etcdrpc.RangeRequest(key=b"\\0", range_end=b"\\0", **fields)
                out(MessageToDict(c.kvstub.Range(request, c.timeout), preserving_proto_field_name=True))
            rng()
            rng(count_only=True)
            rng(count_only=True, limit=1)
            rng(keys_only=True, limit=2)
            rng(min_mod_revision=5)
            rng(max_mod_revision=5)
            rng(min_mod_revision=4, max_mod_revision=7)
            rng(min_create_revision=4)
            rng(max_create_revision=3)
            rng(min_create_revision=3, max_create_revision=5, keys_only=True)
            rng(min_mod_revision=6, count_only=True)
            rng(min_mod_revision=6, limit=1)
            rng(revision=6, min_mod_revision=3)
            rng(serializable=True, count_only=True)
            rng(sort_order=etcdrpc.RangeRequest.DESCEND, sort_target=etcdrpc.RangeRequest.MOD, limit=3)
            rng(sort_order=etcdrpc.RangeRequest.NONE, sort_target=etcdrpc.RangeRequest.VALUE)
            """)
    }
}
