import CProtobufC
import EtcdProto
import EtcdServer
import Foundation
import MVCC
import NIOCore
import NIOPosix
import RPC
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Watch beyond one member's request/response shapes: watchers on followers, `etcdctl make-mirror`, and a
/// consumer that stops reading while writes go on.
final class WatchBehaviourTests: XCTestCase {
    /// A watcher on a follower sees every change made through the leader, in order, once applied there.
    func testWatchOnAFollowerSeesWritesMadeThroughTheLeader() throws {
        let cluster = try KeelCluster(size: 3)
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let follower = cluster.members[(leader + 1) % 3].process!
        let watch = try WatchProcess(follower, ["--prefix", "f/"])
        defer { watch.stop() }
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        // The watch is live once it shows a probe written after it started.
        XCTAssertTrue(try probe(ctl, watch, key: "f/probe"))
        try ctl.succeed(["put", "f/a", "1"])
        try ctl.succeed(["put", "f/b", "2"])
        try ctl.succeed(["del", "f/a"])
        XCTAssertTrue(watch.waitForStdout(containing: "DELETE\nf/a\n"), watch.transcript)
        let out = watch.stdout
        let tail = out[out.range(of: "PUT\nf/a\n1\n")!.lowerBound...]
        XCTAssertEqual(String(tail), "PUT\nf/a\n1\nPUT\nf/b\n2\nDELETE\nf/a\n\n")
    }

    /// A follower that falls so far behind that it catches up by snapshot replaces its store: its
    /// watchers resume from the new store's history and still see every event, in order, once.
    func testWatchersOnAFollowerSurviveASnapshotInstall() async throws {
        let cluster = try KeelCluster(size: 3, extraFlags: ["--snapshot-count", "20"])
        defer { cluster.stopAll() }
        let leader = try cluster.awaitLeader()
        let followerIndex = (leader + 1) % 3
        let follower = cluster.members[followerIndex].process!
        let watch = try WatchProcess(follower, ["--prefix", "snap/"])
        defer { watch.stop() }
        let ctl = Etcdctl(endpoint: cluster.members[leader].endpoint)
        XCTAssertTrue(try probe(ctl, watch, key: "snap/probe"))
        // Paused, the follower stops acknowledging; past Raft's 256 in-flight appends the leader stops
        // sending, compacts its log behind snapshots, and must send a snapshot once the follower is back.
        kill(follower.pid, SIGSTOP)
        let total = 400
        let client = try await DurabilityClient.connect(cluster.members[leader].process!)
        for i in 0..<total { _ = try await client.put(Array("snap/k\(i)".utf8), Array("v\(i)".utf8)) }
        await client.close()
        kill(follower.pid, SIGCONT)
        XCTAssertTrue(watch.waitForStdout(containing: "PUT\nsnap/k\(total - 1)\nv\(total - 1)\n", timeoutSeconds: 20),
                      watch.transcript)
        XCTAssertTrue(follower.log.contains("applied incoming snapshot"), "the follower caught up by snapshot")
        let out = watch.stdout
        let tail = String(out[out.range(of: "PUT\nsnap/k0\n")!.lowerBound...])
        XCTAssertEqual(tail, (0..<total).map { "PUT\nsnap/k\($0)\nv\($0)\n" }.joined())
    }

    /// `etcdctl make-mirror` copies one cluster to another with a Range at a revision, then a Watch from
    /// the next revision: existing keys and later writes both arrive.
    func testMakeMirrorCopiesExistingAndLaterKeys() throws {
        let source = try ServerProcess.start(.keel, dataDir: try ScratchDirectory(label: "mirror-src").child("data"))
        let scratch = try ScratchDirectory(label: "mirror-dst")
        let destination = try ServerProcess.start(.keel, dataDir: scratch.child("data"))
        defer {
            source.stop()
            destination.stop()
        }
        let src = Etcdctl(source)
        for i in 0..<20 { try src.succeed(["put", "m/\(i)", "v\(i)"]) }
        let mirror = try WatchProcess(endpoint: source.endpoint, ["make-mirror", destination.endpoint])
        defer { mirror.stop() }
        let dst = Etcdctl(destination)
        XCTAssertTrue(try waitUntil { try dst.succeed(["get", "m/", "--prefix", "--keys-only"]).split(separator: "\n").count == 20 },
                      "existing keys mirrored")
        for i in 20..<30 { try src.succeed(["put", "m/\(i)", "v\(i)"]) }
        try src.succeed(["del", "m/0"])
        XCTAssertTrue(try waitUntil {
            let keys = try dst.succeed(["get", "m/", "--prefix", "--keys-only"]).split(separator: "\n")
            return keys.count == 29 && !keys.contains("m/0")
        }, "later writes and deletes mirrored: \(mirror.transcript)")
        XCTAssertEqual(try dst.succeed(["get", "m/29", "--print-value-only"]), "v29\n")
    }

    /// A watcher whose client stops reading (SIGSTOP) must not hold up writes or other watchers; once it
    /// reads again it gets every event, in order.
    func testSlowConsumerDoesNotHoldUpWritesOrOtherWatchers() async throws {
        let scratch = try ScratchDirectory(label: "slow-watch")
        let server = try ServerProcess.start(.keel, dataDir: scratch.child("data"))
        defer { server.stop() }
        let total = 300
        let slow = try PythonWatcher(server, prefix: "slow/", expect: total, scratch: scratch, name: "slow")
        let fast = try PythonWatcher(server, prefix: "slow/", expect: total, scratch: scratch, name: "fast")
        defer {
            slow.kill()
            fast.kill()
        }
        XCTAssertTrue(slow.waitForOutput("ready"), slow.output)
        XCTAssertTrue(fast.waitForOutput("ready"), fast.output)
        slow.pause()
        // ~19 MiB of events: far past what socket buffers and the server's per-stream bound hold.
        let client = try await DurabilityClient.connect(server)
        let value = [UInt8](repeating: 0x61, count: 64 << 10)
        let started = Date()
        for i in 0..<total { _ = try await client.put(Array("slow/\(i % 10)".utf8), value) }
        await client.close()
        let writing = Date().timeIntervalSince(started)
        XCTAssertLessThan(writing, 30, "writes went on while a watcher was not reading")
        XCTAssertTrue(fast.waitForOutput("done \(total) in order"), "the other watcher got everything: \(fast.output)")
        // The server moved the stalled watcher out of the synced set instead of queueing without bound.
        let metrics = try Curl.get("\(server.clientURL)/metrics").stdout
        let resyncs = metrics.split(separator: "\n").first { $0.hasPrefix("keel_watch_slow_consumer_resyncs_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        XCTAssertGreaterThanOrEqual(resyncs, 1, metrics)
        slow.resume()
        XCTAssertTrue(slow.waitForOutput("done \(total) in order", timeoutSeconds: 30),
                      "the slow watcher completed once it read again: \(slow.output)")
    }

    private func probe(_ ctl: Etcdctl, _ watch: WatchProcess, key: String) throws -> Bool {
        for i in 1...50 {
            try ctl.succeed(["put", key, "p\(i)"])
            if watch.waitForStdout(containing: "\(key)\np\(i)\n", timeoutSeconds: 0.2) { return true }
        }
        return false
    }

    private func waitUntil(timeout: Double = 15, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)  // polling an external process
        }
        return false
    }
}

/// A python etcd3 watcher in its own process (so SIGSTOP pauses its reading): prints "ready" once the
/// watch exists, then "done N in order" after N events with increasing revisions.
final class PythonWatcher {
    private let process = Process()
    private let outputPath: String

    init(_ server: ServerProcess, prefix: String, expect: Int, scratch: ScratchDirectory, name: String) throws {
        outputPath = scratch.child("\(name).out")
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let script = Python.prelude(host: "127.0.0.1", port: server.ports.client) + """
            it, cancel = c.watch_prefix("\(prefix)")
            print("ready", flush=True)
            n, last, ordered = 0, 0, True
            for ev in it:
                n += 1
                ordered = ordered and ev.mod_revision > last
                last = ev.mod_revision
                if n == \(expect):
                    break
            print("done", n, "in order" if ordered else "OUT OF ORDER", flush=True)
            cancel()
            """
        process.executableURL = URL(fileURLWithPath: ServerBinaries.python)
        process.arguments = ["-c", script]
        process.environment = CommandRunner.cleanEnvironment(adding: ["PYTHONDONTWRITEBYTECODE": "1"])
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: outputPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    func waitForOutput(_ text: String, timeoutSeconds: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if output.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.05)  // polling a child's output file
        }
        return false
    }

    func pause() { Glibc.kill(process.processIdentifier, SIGSTOP) }
    func resume() { Glibc.kill(process.processIdentifier, SIGCONT) }

    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGCONT)
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }
}

/// Fragmenting: a watcher that asks for fragments gets one revision larger than --max-request-bytes in
/// several responses, all but the last marked `fragment`; without asking, the revision stays whole.
final class WatchFragmentTests: XCTestCase {
    func testOneLargeRevisionIsFragmentedOnlyWhenAsked() async throws {
        let scratch = try ScratchDirectory(label: "watch-fragment")
        let server = try ServerProcess.start(.keel, dataDir: scratch.child("data"), extraFlags: ["--max-request-bytes", "1048576"])
        defer { server.stop() }
        let value = [UInt8](repeating: 0x62, count: 400 << 10)
        let client = try await DurabilityClient.connect(server)
        for i in 0..<6 { _ = try await client.put(Array("frag/\(i)".utf8), value) }
        await client.close()

        let connection = try await GRPCClientConnection.connect(host: "127.0.0.1", port: Int(server.ports.client),
                                                                group: MultiThreadedEventLoopGroup.singleton)
        let responses = ResponseLog()
        let call = try await connection.makeCall("/etcdserverpb.Watch/Watch") { message in
            responses.append(message)
        }.get()
        for (id, fragment) in [(Int64(1), true), (Int64(2), false)] {
            call.send(ByteBuffer(bytes: Self.createRequest(watchID: id, prefix: "frag/", fragment: fragment)))
        }
        let bothCreated = try await responses.wait { $0.filter(\.created).count == 2 }
        XCTAssertTrue(bothCreated)
        try Etcdctl(server).succeed(["del", "frag/", "--prefix"])  // one revision, six deletes with 400 KiB prev_kvs
        let allDeletes = try await responses.wait { log in
            [1, 2].allSatisfy { id in log.filter { $0.watchID == id }.reduce(0) { $0 + $1.events } == 6 }
        }
        XCTAssertTrue(allDeletes, "\(responses.all)")
        let fragmented = responses.all.filter { $0.watchID == 1 && $0.events > 0 }
        XCTAssertGreaterThan(fragmented.count, 1, "the 2.4 MB revision came in pieces: \(fragmented)")
        XCTAssertEqual(fragmented.map(\.fragment), Array(repeating: true, count: fragmented.count - 1) + [false])
        let whole = responses.all.filter { $0.watchID == 2 && $0.events > 0 }
        XCTAssertEqual(whole.count, 1, "without fragment the revision is one response: \(whole)")
        call.cancel()
        await connection.close()
    }

    static func createRequest(watchID: Int64, prefix: String, fragment: Bool) -> [UInt8] {
        let arena = ProtoArena()
        let create = arena.message(etcdserverpb__watch_create_request__init)
        create.pointee.key = arena.binary(Array(prefix.utf8))
        create.pointee.range_end = arena.binary(prefixRangeEnd(Array(prefix.utf8)))
        create.pointee.prev_kv = 1
        create.pointee.watch_id = watchID
        create.pointee.fragment = fragment ? 1 : 0
        var request = Etcdserverpb__WatchRequest()
        etcdserverpb__watch_request__init(&request)
        request.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST
        request.create_request = create
        return withExtendedLifetime(arena) { ProtoCodec.packed(&request) }
    }
}

/// Watch responses reduced to what the fragment test looks at.
final class ResponseLog: Sendable {
    struct Response: Sendable { var watchID: Int64; var created: Bool; var fragment: Bool; var events: Int }
    private let state = Mutex([Response]())

    func append(_ message: ByteBuffer) {
        let r = message.withUnsafeReadableBytes { raw -> Response? in
            guard let m = UnpackedMessage(etcdserverpb__watch_response__init, bytes: raw) else { return nil }
            return m.withMessage { p in
                Response(watchID: p.pointee.watch_id, created: p.pointee.created != 0, fragment: p.pointee.fragment != 0,
                         events: p.pointee.n_events)
            }
        }
        if let r { state.withLock { $0.append(r) } }
    }

    var all: [Response] { state.withLock { $0 } }

    func wait(timeout: Double = 15, _ condition: ([Response]) -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(all) { return true }
            try await Task.sleep(for: .milliseconds(20))  // responses arrive on the client's event loop
        }
        return false
    }
}
