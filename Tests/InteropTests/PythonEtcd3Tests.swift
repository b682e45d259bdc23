import Testing

/// The python3-etcd3 client library's high-level calls, compared with real etcd.
@Suite struct PythonEtcd3Tests {
    @Test func clientCallsMatchEtcd() throws {
        let pair = try SideBySide(label: "python")
        try pair.python(
            """
            c.put("/app/a", "1")
            c.put("/app/b", "2")
            c.put("/app/c", "3")
            c.put("/other", "x")
            out(got(c.get("/app/a")))
            out(got(c.get("/missing")))
            out([[v.decode(), kv(m)] for v, m in c.get_prefix("/app/")])
            out([[v.decode(), kv(m)] for v, m in c.get_prefix("/app/", sort_order="descend", sort_target="mod")])
            out([[v.decode(), kv(m)] for v, m in c.get_range("/app/a", "/app/c")])
            out([[v.decode(), kv(m)] for v, m in c.get_all()])
            out(c.delete("/app/a"))
            out(c.delete("/app/a"))
            out(c.replace("/app/b", "2", "22"))
            out(c.replace("/app/b", "2", "222"))
            out(got(c.get("/app/b")))
            ok, responses = c.transaction(
                compare=[c.transactions.value("/app/c") == "3", c.transactions.version("/app/b") > 0],
                success=[c.transactions.put("/app/c", "33"), c.transactions.get("/app/b")],
                failure=[c.transactions.delete("/app/c")])
            out([ok, len(responses)])
            ok, responses = c.transaction(
                compare=[c.transactions.mod("/app/c") < 2],
                success=[c.transactions.put("/never", "1")],
                failure=[c.transactions.get("/app/c"), c.transactions.delete("/other")])
            out([ok, len(responses), [[v.decode(), kv(m)] for v, m in responses[0]]])
            out(c.delete_prefix("/app/").deleted)
            out([[v.decode(), kv(m)] for v, m in c.get_all()])
            out(c.status().raft_index > 0)
            """)
    }
}
