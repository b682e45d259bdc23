import Foundation
import Testing

/// etcd's Watch service through real clients: `etcdctl watch` (simple and JSON output, --prefix,
/// key ranges, --rev history, --prev-kv, compacted and future revisions, interactive mode with
/// progress requests) and python3-etcd3 (iterators, callbacks, cancel, history, compaction, and the
/// raw Watch stream through its generated stubs).
///
/// The expectations are etcd 3.4's observed behaviour on a fresh server (run with
/// `KEEL_INTEROP_SUBJECT=etcd` to check them against real etcd). Exact wherever etcd is
/// deterministic (order, values, revisions of what the test wrote, how a history batch is sent);
/// timing is never assumed: a live watch is "established" by writing probes until it prints one,
/// and every wait is for output, with a deadline.
@Suite struct WatchInteropTests {
    // MARK: etcdctl watch, live

    @Test func keyWatchPrintsPutsAndDeletesInOrder() throws {
        let env = try WatchEnvironment(label: "watch-key")
        defer { env.stop() }
        try env.put("k", "v0")
        let watch = try env.watch(["k"])
        let offset = try env.establish(watch, key: "k").offset
        try env.put("k", "v1")
        try env.put("other", "x")  // another key: not printed
        try env.put("k", "v2")
        try env.delete(["k"])
        try env.put("kk", "y")  // a key with k as prefix: not printed without --prefix
        try env.put("k", "end")
        env.expectStdout(watch, after: offset, equals:
            event("PUT", "k", "v1") + event("PUT", "k", "v2") + event("DELETE", "k") + event("PUT", "k", "end"))
    }

    @Test func prefixWatchPrintsOnlyKeysUnderThePrefix() throws {
        let env = try WatchEnvironment(label: "watch-prefix")
        defer { env.stop() }
        let watch = try env.watch(["p/", "--prefix"])
        let offset = try env.establish(watch, key: "p/probe").offset
        try env.put("p/a", "1")
        try env.put("q", "x")
        try env.put("p", "0")  // "p" sorts before the prefix "p/"
        try env.put("p/b/c", "2")
        try env.delete(["p/", "--prefix"])  // one revision, one DELETE per key, in key order
        try env.put("p0", "z")  // '0' follows '/': just past the prefix range
        try env.put("p/z", "end")
        env.expectStdout(watch, after: offset, equals:
            event("PUT", "p/a", "1") + event("PUT", "p/b/c", "2")
                + event("DELETE", "p/a") + event("DELETE", "p/b/c") + event("DELETE", "p/probe")
                + event("PUT", "p/z", "end"))
    }

    @Test func rangeWatchPrintsKeysInTheHalfOpenRange() throws {
        let env = try WatchEnvironment(label: "watch-range")
        defer { env.stop() }
        let watch = try env.watch(["b", "d"])  // [b, d)
        let offset = try env.establish(watch, key: "b").offset
        for (key, value) in [("a", "1"), ("b", "2"), ("c", "3"), ("cz", "4"), ("d", "5")] { try env.put(key, value) }
        try env.delete(["a", "e"])  // deletes a..d; the watch sees b, c, cz
        try env.put("c", "end")
        env.expectStdout(watch, after: offset, equals:
            event("PUT", "b", "2") + event("PUT", "c", "3") + event("PUT", "cz", "4")
                + event("DELETE", "b") + event("DELETE", "c") + event("DELETE", "cz") + event("PUT", "c", "end"))
    }

    @Test func prevKVPrintsThePreviousPairBeforeTheEvent() throws {
        let env = try WatchEnvironment(label: "watch-prevkv")
        defer { env.stop() }
        let watch = try env.watch(["k", "--prev-kv"])
        let probe = try env.establish(watch, key: "k")
        try env.put("k", "v1")
        try env.delete(["k"])
        try env.put("k", "v2")  // created again: no previous pair
        try env.put("k", "end")
        env.expectStdout(watch, after: probe.offset, equals:
            event("PUT", "k", "v1", prev: ("k", probe.lastValue)) + event("DELETE", "k", prev: ("k", "v1"))
                + event("PUT", "k", "v2") + event("PUT", "k", "end", prev: ("k", "v2")))
    }

    /// `-w json`: one line per WatchResponse, etcdctl's Go field names; live responses carry
    /// the event's revision in the header.
    @Test func jsonOutputOfLiveEvents() throws {
        let env = try WatchEnvironment(label: "watch-json")
        defer { env.stop() }
        let watch = try env.watch(["k"], json: true)
        let probe = try env.establish(watch, key: "k", json: true)
        let created = probe.revisions[0]  // the first probe created k
        let a = try env.put("k", "a")
        try env.put("other", "x")
        let b = try env.put("k", "b")
        let deleted = try env.delete(["k"])
        let again = try env.put("k", "c")
        let versionA = probe.revisions.count + 1
        let expected = [
            """
            {"Header":{"revision":\(a)},"Events":[{"kv":{"key":"aw==","create_revision":\(created),"mod_revision":\(a),"version":\(versionA),"value":"YQ=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """,
            """
            {"Header":{"revision":\(b)},"Events":[{"kv":{"key":"aw==","create_revision":\(created),"mod_revision":\(b),"version":\(versionA + 1),"value":"Yg=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """,
            """
            {"Header":{"revision":\(deleted)},"Events":[{"type":1,"kv":{"key":"aw==","mod_revision":\(deleted)}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """,
            """
            {"Header":{"revision":\(again)},"Events":[{"kv":{"key":"aw==","create_revision":\(again),"mod_revision":\(again),"version":1,"value":"Yw=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """,
        ]
        env.expectJSONLines(watch, after: probe.offset, equal: expected)
    }

    // MARK: etcdctl watch, history and revisions

    /// `--rev N`: the events since N, written before the watch started, come first and in order
    /// (in one response whose header is the current revision), then live events.
    @Test func historyFromAnOlderRevision() throws {
        let env = try WatchEnvironment(label: "watch-history")
        defer { env.stop() }
        let r = try env.writeHistory()
        let plain = try env.watch(["k", "--rev", "\(r.v2)"])
        let withPrev = try env.watch(["k", "--rev", "\(r.v2)", "--prev-kv"])
        let json = try env.watch(["k", "--rev", "\(r.v2)"], json: true)
        let history = event("PUT", "k", "v2") + event("DELETE", "k") + event("PUT", "k", "v3")
        let historyWithPrev = event("PUT", "k", "v2", prev: ("k", "v1")) + event("DELETE", "k", prev: ("k", "v2"))
            + event("PUT", "k", "v3")
        env.expectStdout(plain, after: 0, equals: history)
        env.expectStdout(withPrev, after: 0, equals: historyWithPrev)
        env.expectJSONLines(json, after: 0, equal: [
            """
            {"Header":{"revision":\(r.o2)},"Events":[
              {"kv":{"key":"aw==","create_revision":\(r.v1),"mod_revision":\(r.v2),"version":2,"value":"djI="}},
              {"type":1,"kv":{"key":"aw==","mod_revision":\(r.deleted)}},
              {"kv":{"key":"aw==","create_revision":\(r.v3),"mod_revision":\(r.v3),"version":1,"value":"djM="}}],
             "CompactRevision":0,"Canceled":false,"Created":false}
            """,
        ])
        // The history was printed, so the watches are registered: the next write is live.
        let v4 = try env.put("k", "v4")
        env.expectStdout(plain, after: 0, equals: history + event("PUT", "k", "v4"))
        env.expectStdout(withPrev, after: 0, equals: historyWithPrev + event("PUT", "k", "v4", prev: ("k", "v3")))
        env.expectJSONLines(json, after: 0, equal: [
            """
            {"Header":{"revision":\(r.o2)},"Events":[
              {"kv":{"key":"aw==","create_revision":\(r.v1),"mod_revision":\(r.v2),"version":2,"value":"djI="}},
              {"type":1,"kv":{"key":"aw==","mod_revision":\(r.deleted)}},
              {"kv":{"key":"aw==","create_revision":\(r.v3),"mod_revision":\(r.v3),"version":1,"value":"djM="}}],
             "CompactRevision":0,"Canceled":false,"Created":false}
            """,
            """
            {"Header":{"revision":\(v4)},"Events":[{"kv":{"key":"aw==","create_revision":\(r.v3),"mod_revision":\(v4),"version":2,"value":"djQ="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """,
        ])
    }

    /// `--rev` past the current revision: nothing until the store reaches it (whether the watch
    /// registers before or after the writes, the output is the same).
    @Test func futureRevisionWaitsForIt() throws {
        let env = try WatchEnvironment(label: "watch-future")
        defer { env.stop() }
        let now = try env.put("k", "v0")
        let watch = try env.watch(["k", "--rev", "\(now + 2)"])
        try env.put("k", "a")
        try env.put("k", "b")
        try env.put("k", "end")
        env.expectStdout(watch, after: 0, equals: event("PUT", "k", "b") + event("PUT", "k", "end"))
    }

    /// A start revision below the compaction revision: etcd cancels the watch with
    /// compact_revision set; etcdctl reports it and exits 5. The compaction revision itself is
    /// still watchable.
    @Test func compactedRevisionCancelsTheWatch() throws {
        let env = try WatchEnvironment(label: "watch-compacted")
        defer { env.stop() }
        var revisions: [Int] = []
        for index in 1...5 { revisions.append(try env.put("k", "v\(index)")) }
        #expect(revisions == [2, 3, 4, 5, 6], "a fresh server numbers the first writes 2...6")
        #expect(try env.ctl.succeed(["compaction", "4"]) == "compacted revision 4\n")
        let expectedErrors = [
            "watch was canceled (etcdserver: mvcc: required revision has been compacted)",
            "Error: watch is canceled by the server",
        ]
        for start in ["2", "3", "1"] {
            let watch = try env.watch(["k", "--rev", start])
            let status = watch.waitForExit()
            #expect(status == .exited(5), "watch --rev \(start) after compaction 4:\n\(watch.transcript)")
            #expect(watch.stdout == "", "watch --rev \(start):\n\(watch.transcript)")
            #expect(watch.stderrLines == expectedErrors, "watch --rev \(start):\n\(watch.transcript)")
        }
        let json = try env.watch(["k", "--rev", "2"], json: true)
        #expect(json.waitForExit() == .exited(5), "\(json.transcript)")
        #expect(json.stderrLines == expectedErrors, "\(json.transcript)")
        // The cancel response's header has no revision (etcd sends 0), no events.
        env.expectJSONLines(json, after: 0, equal: [
            #"{"Header":{},"Events":[],"CompactRevision":4,"Canceled":true,"Created":false}"#,
        ])

        let atCompaction = try env.watch(["k", "--rev", "4"])
        env.expectStdout(atCompaction, after: 0, equals:
            event("PUT", "k", "v3") + event("PUT", "k", "v4") + event("PUT", "k", "v5"))
        #expect(atCompaction.exitStatus == nil, "the watch from the compaction revision still runs")
    }

    // MARK: etcdctl watch -i

    /// Interactive mode: `watch …` lines start watches on one stream; `progress` asks the server
    /// for a progress notification, which etcdctl prints once per watch; end of input ends etcdctl.
    @Test func interactiveWatchAndProgress() throws {
        let env = try WatchEnvironment(label: "watch-interactive")
        defer { env.stop() }
        let watch = try env.interactiveWatch()
        try watch.send(line: "watch k")
        let offset = try env.establish(watch, key: "k").offset
        try env.put("k", "a")
        env.expectStdout(watch, after: offset, equals: event("PUT", "k", "a"))
        let next = try env.revision() + 1
        try watch.send(line: "watch p/ --prefix --rev \(next)")
        let current = try env.put("p/x", "b")
        #expect(current == next)
        env.expectStdout(watch, after: offset, equals: event("PUT", "k", "a") + event("PUT", "p/x", "b"))
        try watch.send(line: "progress")
        let progress = "progress notify: \(current)\n"
        env.expectStdout(watch, after: offset, equals:
            event("PUT", "k", "a") + event("PUT", "p/x", "b") + progress + progress)
        try watch.send(line: "bogus")
        #expect(watch.waitFor { _, stderr in stderr.contains("Invalid command bogus (only support watch)\n") },
                "\(watch.transcript)")
        watch.closeStdin()
        #expect(watch.waitForExit() == .exited(3), "\(watch.transcript)")
        #expect(watch.stderrLines == [
            "Invalid command bogus (only support watch)", "Error: Error reading watch request line: EOF",
        ], "\(watch.transcript)")
    }

    // MARK: python3-etcd3

    /// `watch()`'s event iterator: live puts and deletes in order with their revisions; `cancel()`
    /// ends the iterator; the same client can watch again afterwards (the stream survives a cancel).
    @Test func pythonWatchIteratorAndCancel() throws {
        let env = try WatchEnvironment(label: "watch-py-iter")
        defer { env.stop() }
        try env.python(
            """
            out(rev(c.put("k", "v0")))
            events, cancel = c.watch("k")
            q = drain(events)
            c.put("k", "v1")
            c.put("other", "x")
            c.put("k", "v2")
            out(c.delete("k"))
            out(take(q, 3))
            cancel()
            out(take(q, 1))
            events, cancel = c.watch("k")
            q = drain(events)
            c.put("k", "again")
            out(take(q, 1))
            cancel()
            out(take(q, 1))
            """,
            expect: """
            2
            true
            [["event", {"create": 2, "key": "k", "mod": 3, "prev": null, "type": "PutEvent", "value": "v1", "version": 2}], ["event", {"create": 2, "key": "k", "mod": 5, "prev": null, "type": "PutEvent", "value": "v2", "version": 3}], ["event", {"create": 0, "key": "k", "mod": 6, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}]]
            [["end"]]
            [["event", {"create": 7, "key": "k", "mod": 7, "prev": null, "type": "PutEvent", "value": "again", "version": 1}]]
            [["end"]]
            """)
    }

    /// Callbacks get whole WatchResponses: one per revision, a transaction's events together in
    /// operation order, deletes of a prefix in key order; watch ids count from 0 on the stream.
    @Test func pythonPrefixRangeAndCallbacks() throws {
        let env = try WatchEnvironment(label: "watch-py-callbacks")
        defer { env.stop() }
        try env.python(
            """
            q1, cb1 = collector()
            w1 = c.add_watch_prefix_callback("p/", cb1)
            q2, cb2 = collector()
            w2 = c.add_watch_callback("b", cb2, range_end="d", prev_kv=True)
            events, cancel = c.watch_prefix("p/")
            q3 = drain(events)
            out([w1, w2])
            c.put("p/a", "1")
            c.put("b", "1")
            c.transaction(compare=[], success=[
                c.transactions.put("p/b", "2"), c.transactions.put("c", "2"), c.transactions.put("p/a", "3")],
                failure=[])
            c.put("q", "x")
            c.delete_prefix("p/")
            c.delete("b")
            c.put("p/end", "e")
            c.put("c", "e")
            out(take(q1, 4))
            out(take(q2, 4))
            out(take(q3, 6))
            c.cancel_watch(w1)
            c.cancel_watch(w2)
            cancel()
            out(take(q3, 1))
            """,
            expect: """
            [0, 1]
            [{"events": [{"create": 2, "key": "p/a", "mod": 2, "prev": null, "type": "PutEvent", "value": "1", "version": 1}], "revision": 2}, {"events": [{"create": 4, "key": "p/b", "mod": 4, "prev": null, "type": "PutEvent", "value": "2", "version": 1}, {"create": 2, "key": "p/a", "mod": 4, "prev": null, "type": "PutEvent", "value": "3", "version": 2}], "revision": 4}, {"events": [{"create": 0, "key": "p/a", "mod": 6, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}, {"create": 0, "key": "p/b", "mod": 6, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}], "revision": 6}, {"events": [{"create": 8, "key": "p/end", "mod": 8, "prev": null, "type": "PutEvent", "value": "e", "version": 1}], "revision": 8}]
            [{"events": [{"create": 3, "key": "b", "mod": 3, "prev": null, "type": "PutEvent", "value": "1", "version": 1}], "revision": 3}, {"events": [{"create": 4, "key": "c", "mod": 4, "prev": null, "type": "PutEvent", "value": "2", "version": 1}], "revision": 4}, {"events": [{"create": 0, "key": "b", "mod": 7, "prev": {"key": "b", "mod": 3, "value": "1"}, "type": "DeleteEvent", "value": "", "version": 0}], "revision": 7}, {"events": [{"create": 4, "key": "c", "mod": 9, "prev": {"key": "c", "mod": 4, "value": "2"}, "type": "PutEvent", "value": "e", "version": 2}], "revision": 9}]
            [["event", {"create": 2, "key": "p/a", "mod": 2, "prev": null, "type": "PutEvent", "value": "1", "version": 1}], ["event", {"create": 4, "key": "p/b", "mod": 4, "prev": null, "type": "PutEvent", "value": "2", "version": 1}], ["event", {"create": 2, "key": "p/a", "mod": 4, "prev": null, "type": "PutEvent", "value": "3", "version": 2}], ["event", {"create": 0, "key": "p/a", "mod": 6, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}], ["event", {"create": 0, "key": "p/b", "mod": 6, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}], ["event", {"create": 8, "key": "p/end", "mod": 8, "prev": null, "type": "PutEvent", "value": "e", "version": 1}]]
            [["end"]]
            """)
    }

    /// `start_revision`: history first, in order, then live; a callback gets the whole history in
    /// one response whose header is the current revision; `watch_once` from a revision.
    @Test func pythonHistoryFromStartRevision() throws {
        let env = try WatchEnvironment(label: "watch-py-history")
        defer { env.stop() }
        try env.python(
            """
            for key, value in [("k", "v1"), ("k", "v2"), ("o", "x")]:
                c.put(key, value)
            c.delete("k")
            c.put("k", "v3")
            out(rev(c.put("o", "y")))
            events, cancel = c.watch("k", start_revision=3)
            q = drain(events)
            out(take(q, 3))
            c.put("k", "v4")
            out(take(q, 1))
            cancel()
            q2, cb = collector()
            c.add_watch_callback("k", cb, start_revision=2, prev_kv=True)
            out(take(q2, 1))
            out(ev(c.watch_once("k", timeout=5, start_revision=6)))
            """,
            expect: """
            7
            [["event", {"create": 2, "key": "k", "mod": 3, "prev": null, "type": "PutEvent", "value": "v2", "version": 2}], ["event", {"create": 0, "key": "k", "mod": 5, "prev": null, "type": "DeleteEvent", "value": "", "version": 0}], ["event", {"create": 6, "key": "k", "mod": 6, "prev": null, "type": "PutEvent", "value": "v3", "version": 1}]]
            [["event", {"create": 6, "key": "k", "mod": 8, "prev": null, "type": "PutEvent", "value": "v4", "version": 2}]]
            [{"events": [{"create": 2, "key": "k", "mod": 2, "prev": null, "type": "PutEvent", "value": "v1", "version": 1}, {"create": 2, "key": "k", "mod": 3, "prev": {"key": "k", "mod": 2, "value": "v1"}, "type": "PutEvent", "value": "v2", "version": 2}, {"create": 0, "key": "k", "mod": 5, "prev": {"key": "k", "mod": 3, "value": "v2"}, "type": "DeleteEvent", "value": "", "version": 0}, {"create": 6, "key": "k", "mod": 6, "prev": null, "type": "PutEvent", "value": "v3", "version": 1}, {"create": 6, "key": "k", "mod": 8, "prev": {"key": "k", "mod": 6, "value": "v3"}, "type": "PutEvent", "value": "v4", "version": 2}], "revision": 8}]
            {"create": 6, "key": "k", "mod": 6, "prev": null, "type": "PutEvent", "value": "v3", "version": 1}
            """)
    }

    /// A compacted start revision: etcd accepts the watch (created without compact_revision, so
    /// `watch()` returns) and then cancels it with compact_revision, which python-etcd3 raises
    /// from the iterator (or passes to the callback) as RevisionCompactedError(4).
    @Test func pythonCompactedStartRevision() throws {
        let env = try WatchEnvironment(label: "watch-py-compacted")
        defer { env.stop() }
        try env.python(
            """
            out([rev(c.put("k", "v%d" % i)) for i in range(1, 6)])
            c.compact(4)
            try:
                events, cancel = c.watch("k", start_revision=2)
                out("watch returned")
                out(take(drain(events), 1))
            except Exception as x:
                out(["watch raised", type(x).__name__, getattr(x, "compacted_revision", None)])
            q, cb = collector()
            try:
                out(c.add_watch_callback("k", cb, start_revision=3) >= 0)
                out(take(q, 1))
            except Exception as x:
                out(["add_watch_callback raised", type(x).__name__, getattr(x, "compacted_revision", None)])
            events, cancel = c.watch("k", start_revision=4)
            out(take(drain(events), 3))
            cancel()
            """,
            expect: """
            [2, 3, 4, 5, 6]
            "watch returned"
            [["raised", "RevisionCompactedError", 4]]
            true
            [["raised", "RevisionCompactedError", 4]]
            [["event", {"create": 2, "key": "k", "mod": 4, "prev": null, "type": "PutEvent", "value": "v3", "version": 3}], ["event", {"create": 2, "key": "k", "mod": 5, "prev": null, "type": "PutEvent", "value": "v4", "version": 4}], ["event", {"create": 2, "key": "k", "mod": 6, "prev": null, "type": "PutEvent", "value": "v5", "version": 5}]]
            """)
    }

    /// The Watch stream itself through python-etcd3's generated stubs (its proto predates
    /// progress requests and client watch ids): created responses, ids, filters, prev_kv, cancel
    /// (and cancel of an unknown id: no response), history joining live, compacted and future starts.
    /// Responses of one revision to several watchers are sorted by watch id (etcd's order is a map's).
    @Test func pythonRawWatchStream() throws {
        let env = try WatchEnvironment(label: "watch-py-raw")
        defer { env.stop() }
        try env.python(
            """
            W = etcdrpc.WatchCreateRequest
            requests = queue.Queue()
            def request_iterator():
                while True:
                    r = requests.get()
                    if r is None:
                        return
                    yield r
            responses = etcdrpc.WatchStub(c.channel).Watch(request_iterator(), timeout=15)
            def show(r):
                d = json_format.MessageToDict(r, preserving_proto_field_name=True)
                for f in ("cluster_id", "member_id", "raft_term"):
                    d.get("header", {}).pop(f, None)
                return d
            def create(**kw):
                requests.put(etcdrpc.WatchRequest(create_request=W(**kw)))
            def cancel(i):
                requests.put(etcdrpc.WatchRequest(cancel_request=etcdrpc.WatchCancelRequest(watch_id=i)))
            def one():
                out(show(next(responses)))
            def some(n):
                got = [show(next(responses)) for _ in range(n)]
                got.sort(key=lambda d: (int(d.get("header", {}).get("revision", "0")), int(d.get("watch_id", "0"))))
                for d in got:
                    out(d)
            c.put("r", "0")
            create(key=b"r", prev_kv=True); one()
            create(key=b"r", filters=[W.NOPUT]); one()
            create(key=b"r", range_end=b"s", filters=[W.NODELETE]); one()
            c.put("r", "1"); c.delete("r"); c.put("rr", "x")
            some(5)
            cancel(0); one()
            cancel(42)
            create(key=b"r", start_revision=3); one(); one()
            c.compact(4)
            create(key=b"r", start_revision=2); one(); one()
            create(key=b"r", start_revision=99); one()
            c.put("r", "z")
            some(2)
            responses.cancel()
            """,
            expect: """
            {"created": true, "header": {"revision": "2"}}
            {"created": true, "header": {"revision": "2"}, "watch_id": "1"}
            {"created": true, "header": {"revision": "2"}, "watch_id": "2"}
            {"events": [{"kv": {"create_revision": "2", "key": "cg==", "mod_revision": "3", "value": "MQ==", "version": "2"}, "prev_kv": {"create_revision": "2", "key": "cg==", "mod_revision": "2", "value": "MA==", "version": "1"}}], "header": {"revision": "3"}}
            {"events": [{"kv": {"create_revision": "2", "key": "cg==", "mod_revision": "3", "value": "MQ==", "version": "2"}}], "header": {"revision": "3"}, "watch_id": "2"}
            {"events": [{"kv": {"key": "cg==", "mod_revision": "4"}, "prev_kv": {"create_revision": "2", "key": "cg==", "mod_revision": "3", "value": "MQ==", "version": "2"}, "type": "DELETE"}], "header": {"revision": "4"}}
            {"events": [{"kv": {"key": "cg==", "mod_revision": "4"}, "type": "DELETE"}], "header": {"revision": "4"}, "watch_id": "1"}
            {"events": [{"kv": {"create_revision": "5", "key": "cnI=", "mod_revision": "5", "value": "eA==", "version": "1"}}], "header": {"revision": "5"}, "watch_id": "2"}
            {"canceled": true, "header": {"revision": "5"}}
            {"created": true, "header": {"revision": "5"}, "watch_id": "3"}
            {"events": [{"kv": {"create_revision": "2", "key": "cg==", "mod_revision": "3", "value": "MQ==", "version": "2"}}, {"kv": {"key": "cg==", "mod_revision": "4"}, "type": "DELETE"}], "header": {"revision": "5"}, "watch_id": "3"}
            {"created": true, "header": {"revision": "5"}, "watch_id": "4"}
            {"canceled": true, "compact_revision": "4", "header": {}, "watch_id": "4"}
            {"created": true, "header": {"revision": "5"}, "watch_id": "5"}
            {"events": [{"kv": {"create_revision": "6", "key": "cg==", "mod_revision": "6", "value": "eg==", "version": "1"}}], "header": {"revision": "6"}, "watch_id": "2"}
            {"events": [{"kv": {"create_revision": "6", "key": "cg==", "mod_revision": "6", "value": "eg==", "version": "1"}}], "header": {"revision": "6"}, "watch_id": "3"}
            """)
    }
}

// MARK: - Support

/// What etcdctl's simple printer prints for one event: the type, the previous pair if any,
/// then key and value on lines of their own (a DELETE's value is empty).
private func event(_ type: String, _ key: String, _ value: String = "", prev: (String, String)? = nil) -> String {
    var text = "\(type)\n"
    if let prev { text += "\(prev.0)\n\(prev.1)\n" }
    return text + "\(key)\n\(value)\n"
}

/// The revisions `writeHistory` produced.
private struct WrittenHistory {
    let v1, v2, o, deleted, v3, o2: Int
}

/// One fresh subject server (keel, or etcd with KEEL_INTEROP_SUBJECT=etcd), the watches started
/// against it, and the helpers the tests share. `stop()` reaps the watches, then the server.
private final class WatchEnvironment {
    let scratch: ScratchDirectory
    let server: ServerProcess
    let ctl: Etcdctl
    private var watches: [WatchProcess] = []

    init(label: String) throws {
        scratch = try ScratchDirectory(label: label)
        server = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("server"))
        ctl = Etcdctl(server)
    }

    func watch(_ arguments: [String], json: Bool = false) throws -> WatchProcess {
        let watch = try WatchProcess(server, arguments, json: json)
        watches.append(watch)
        return watch
    }

    func interactiveWatch() throws -> WatchProcess {
        let watch = try WatchProcess.interactive(server)
        watches.append(watch)
        return watch
    }

    /// `etcdctl put`; returns the revision it wrote.
    @discardableResult
    func put(_ key: String, _ value: String) throws -> Int {
        try revision(of: ctl.succeed(["put", key, value], json: true))
    }

    /// `etcdctl del ARGS`; returns the revision (the current one when nothing was deleted).
    @discardableResult
    func delete(_ arguments: [String]) throws -> Int {
        try revision(of: ctl.succeed(["del"] + arguments, json: true))
    }

    /// The current revision.
    func revision() throws -> Int {
        try revision(of: ctl.succeed(["get", "nonexistent-key"], json: true))
    }

    private func revision(of json: String) throws -> Int {
        guard let document = try JSONComparison.parse(json) as? [String: Any],
              let header = document["header"] as? [String: Any],
              let revision = (header["revision"] as? NSNumber)?.intValue
        else { throw HarnessError.badOutput("no header.revision in \(json)") }
        return revision
    }

    /// On a fresh server: k=v1, k=v2, o=x, del k, k=v3, o=y (revisions 2...7).
    func writeHistory(sourceLocation: SourceLocation = #_sourceLocation) throws -> WrittenHistory {
        let history = WrittenHistory(
            v1: try put("k", "v1"), v2: try put("k", "v2"), o: try put("o", "x"),
            deleted: try delete(["k"]), v3: try put("k", "v3"), o2: try put("o", "y"))
        #expect([history.v1, history.v2, history.o, history.deleted, history.v3, history.o2] == Array(2...7),
                "a fresh server numbers the first writes 2...7", sourceLocation: sourceLocation)
        return history
    }

    /// Writes `key` = probe-1, probe-2, … (waiting a little longer each time) until the watch
    /// prints the latest probe. From then on the watch is registered and the probes are all
    /// printed, so what follows `offset` is exactly the events of later writes.
    struct Probe {
        let offset: Int
        let lastValue: String
        let revisions: [Int]
    }

    func establish(_ watch: WatchProcess, key: String, json: Bool = false,
                   sourceLocation: SourceLocation = #_sourceLocation) throws -> Probe {
        let budgetSeconds = 20.0
        var spent = 0.0
        var wait = 0.25
        var revisions: [Int] = []
        while spent < budgetSeconds {
            let value = "probe-\(revisions.count + 1)"
            revisions.append(try put(key, value))
            // The value is the last thing printed for the event (simple) or inside its line (JSON).
            let marker = json ? "\"value\":\"\(Data(value.utf8).base64EncodedString())\"" : "\n\(value)\n"
            var offset = 0
            let seen = watch.waitFor(timeoutSeconds: wait) { stdout, _ in
                guard stdout.hasSuffix("\n"), stdout.contains(marker) else { return false }
                offset = stdout.utf8.count
                return true
            }
            if seen { return Probe(offset: offset, lastValue: value, revisions: revisions) }
            if watch.waitForExit(timeoutSeconds: 0.001) != nil { break }
            spent += wait
            wait = min(wait * 2, 2)
        }
        throw HarnessError.timedOut(
            "\(watch.command) printed none of \(revisions.count) probes of \(key) within \(budgetSeconds)s\n"
                + "\(watch.transcript)\n--- server log (tail) ---\n\(String(server.log.suffix(4000)))")
    }

    /// Waits until the watch printed at least as much as `expected` after `offset`, then requires
    /// exactly `expected` (extra or missing events, wrong order or values all show as a difference).
    func expectStdout(_ watch: WatchProcess, after offset: Int, equals expected: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let count = expected.utf8.count
        watch.waitFor { stdout, _ in stdout.utf8.count - offset >= count }
        let actual = watch.stdout(after: offset)
        #expect(actual == expected,
                "\(watch.command): stdout after the probes differs\n--- expected ---\n\(expected)--- actual ---\n\(actual)\n--- full ---\n\(watch.transcript)",
                sourceLocation: sourceLocation)
    }

    /// Waits for as many complete lines as `expected` has after `offset`, then compares each as
    /// JSON (cluster_id, member_id, raft_term ignored; a field present on one side only differs).
    func expectJSONLines(_ watch: WatchProcess, after offset: Int, equal expected: [String],
                         sourceLocation: SourceLocation = #_sourceLocation) {
        watch.waitFor { stdout, _ in
            let tail = String(decoding: Array(stdout.utf8).dropFirst(offset), as: UTF8.self)
            return tail.filter { $0 == "\n" }.count >= expected.count
        }
        let actual = watch.stdout(after: offset)
        let compact = expected.map { $0.replacingOccurrences(of: "\n", with: "") }.joined(separator: "\n")
        let differences = outputDifferences(compact, actual, json: true)
        #expect(differences.isEmpty,
                "\(watch.command): JSON differs\n  \(differences.joined(separator: "\n  "))\n--- expected ---\n\(compact)\n--- actual ---\n\(actual)\n--- full ---\n\(watch.transcript)",
                sourceLocation: sourceLocation)
    }

    /// Runs a python3-etcd3 script (with the watch helpers below) and compares its JSON lines.
    func python(_ body: String, expect expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let indented = body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
        let script = Self.pythonHelpers + "def main():\n" + indented.joined(separator: "\n") + "\n" + Self.pythonTrailer
        let result = try Python.run(script, against: server)
        #expect(result.exitCode == 0, "python script failed: \(result)\n--- server log (tail) ---\n\(String(server.log.suffix(4000)))",
                sourceLocation: sourceLocation)
        let differences = outputDifferences(expected, result.stdout, json: true)
        #expect(differences.isEmpty,
                "python watch output differs\n  \(differences.joined(separator: "\n  "))\n--- expected ---\n\(expected)\n--- actual ---\n\(result.stdout)\n--- stderr ---\n\(result.stderr)",
                sourceLocation: sourceLocation)
    }

    /// `drain(iterator)` consumes an event iterator on a daemon thread into a queue of
    /// ["event", {…}] / ["end"] / ["raised", name, compacted_revision]; `collector()` is a callback
    /// and its queue of {"revision", "events"} per WatchResponse; `take(q, n)` waits at most 5 s in
    /// all and appends ["timeout"] when items are missing.
    static let pythonHelpers = """
        import os, queue, threading, time, traceback
        from google.protobuf import json_format
        def rev(response):
            return response.header.revision
        def ev(e):
            raw = e._event
            prev = None
            if raw.HasField("prev_kv"):
                prev = {"key": raw.prev_kv.key.decode(), "value": raw.prev_kv.value.decode(), "mod": raw.prev_kv.mod_revision}
            return {"type": type(e).__name__, "key": e.key.decode(), "value": e.value.decode(),
                    "create": e.create_revision, "mod": e.mod_revision, "version": e.version, "prev": prev}
        def raised(x):
            return ["raised", type(x).__name__, getattr(x, "compacted_revision", None)]
        def drain(iterator):
            q = queue.Queue()
            def run():
                try:
                    for e in iterator:
                        q.put(["event", ev(e)])
                    q.put(["end"])
                except Exception as x:
                    q.put(raised(x))
            threading.Thread(target=run, daemon=True).start()
            return q
        def collector():
            q = queue.Queue()
            def callback(response):
                if isinstance(response, Exception):
                    q.put(raised(response))
                else:
                    q.put({"revision": response.header.revision, "events": [ev(e) for e in response.events]})
            return q, callback
        def take(q, n, timeout=5):
            items = []
            deadline = time.monotonic() + timeout
            while len(items) < n:
                try:
                    items.append(q.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    items.append(["timeout"])
                    break
            return items

        """

    /// gRPC's threads may keep the interpreter alive after a watch: exit explicitly.
    static let pythonTrailer = """
        try:
            main()
        except BaseException:
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        sys.stdout.flush()
        os._exit(0)

        """

    func stop() {
        for watch in watches { watch.stop() }
        server.kill9()
    }

    deinit { stop() }
}
