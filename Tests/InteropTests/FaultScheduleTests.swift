import Foundation
import Linearizability
import NIOCore
import NIOPosix
import RPC
import Synchronization
import XCTest

/// A 3-member cluster on loopback under a seeded schedule of faults, one at a time: SIGKILL and restart,
/// SIGSTOP/SIGCONT pauses, one-way loss or delay into a member (a peer proxy), leader transfers, and a
/// fourth member added (learner, then promoted) and removed again, aimed at
/// the leader or at a random member. Meanwhile six clients put, get (linearizable and serializable),
/// compare-and-set and delete a few keys, and one watcher follows them all, resuming from its last
/// revision + 1 on another member whenever its stream breaks. Afterwards, with every fault healed:
///   - the client history (plus a final read of every key) must be linearizable (our checker);
///   - the watcher's events must be strictly increasing in revision (no duplicate, no reordering) and
///     equal to a fresh watch from revision 1 (no gap), and every acknowledged write must appear there at
///     the revision its answer carried (nothing acknowledged was lost).
///
/// KEEL_FAULT_SEED picks the schedule (default 1; it is printed, and the same seed replays the same faults
/// in the same order with the same targets, "the leader" or "member i", and durations; which member leads
/// and process timing still vary), KEEL_FAULT_DURATION
/// its length in seconds (default 40, what CI runs). A long run:
///   KEEL_FAULT_DURATION=7200 KEEL_FAULT_SEED=$RANDOM swift test --skip-build --filter FaultScheduleTests
final class FaultScheduleTests: XCTestCase {
    static let keys = (0..<12).map { "f/k\($0)" }
    static let clients = 6

    func testSeededFaultScheduleKeepsHistoriesLinearizableAndWatchesGapFree() async throws {
        guard ServerKind.subject == .keel else { throw XCTSkip("peer proxies follow Keel's peer transport") }
        let env = ProcessInfo.processInfo.environment
        let seed = env["KEEL_FAULT_SEED"].flatMap { UInt64($0) } ?? 1
        let duration = env["KEEL_FAULT_DURATION"].flatMap { Double($0) } ?? 40
        print("fault schedule: seed \(seed), \(duration) s")

        let cluster = try FaultCluster(size: 3)
        defer { cluster.shutdown() }
        _ = try cluster.awaitLeader()
        let recorder = HistoryRecorder()
        let acknowledged = AcknowledgedWrites()
        let stop = StopFlag()
        let watcher = ResumingWatcher(ports: cluster.members.map { Int($0.ports.client) })
        let watchTask = Task { await watcher.run(until: stop) }
        var clientTasks: [Task<[String: Int], Never>] = []
        for c in 0..<Self.clients {
            let port = Int(cluster.members[c % 3].ports.client)
            clientTasks.append(Task { await FaultScheduleTests.client(c, port: port, recorder: recorder, acknowledged: acknowledged, stop: stop) })
        }

        let faults: Result<[String: Int], Error> = await withCheckedContinuation { done in
            let thread = Thread {
                var schedule = FaultSchedule(seed: seed)
                done.resume(returning: Result { try schedule.run(on: cluster, for: duration) })
            }
            thread.name = "keel-fault-schedule"
            thread.start()
        }
        stop.set()
        var opCounts: [String: Int] = [:]
        for t in clientTasks { for (k, v) in await t.value { opCounts[k, default: 0] += v } }
        let injected: [String: Int]
        do { injected = try faults.get() } catch {
            report(cluster, seed: seed, error: error)
            throw error
        }

        // Everything after the schedule reports the members' logs when it fails or throws.
        do {
            // Heal, then read every key once more (recorded): the checker ties these to everything before.
            try cluster.healAll()
            let leader = try cluster.awaitLeader()
            let reader = try await FaultKVClient.connect(port: Int(cluster.members[leader].ports.client), timeout: .seconds(10))
            // A last write in the watched range marks where both watches must reach.
            let finalRevision = try await reader.put("f/~end", "end")
            for key in Self.keys {
                let op = recorder.invoke(client: 1000, .get(key: key))
                let (value, _) = try await reader.get(key, serializable: false)
                recorder.returned(op, .value(value))
            }

            // Watch: let the live watcher catch up, then compare with a fresh watch from revision 1.
            let caughtUp = await watcher.waitUntilPast(finalRevision, seconds: 30)
            watchTask.cancel()
            await watchTask.value
            let reference = try await ResumingWatcher.collect(port: Int(cluster.members[leader].ports.client), through: finalRevision)
            await reader.close()
            let watched = watcher.events
            XCTAssertTrue(caughtUp, "the watcher never reached revision \(finalRevision) (at \(watched.last?.revision ?? 0))")
            XCTAssertEqual(watcher.orderViolations, [], "watch events out of order or duplicated")
            XCTAssertEqual(watched.count, reference.count, "watched \(watched.count) events, a fresh watch from 1 shows \(reference.count)")
            if let i = zip(watched, reference).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                XCTFail("watch gap or difference at event \(i): watched \(watched[i]), fresh watch \(reference[i])")
            }
            let byRevision = Dictionary(reference.map { ($0.revision, $0) }, uniquingKeysWith: { a, _ in a })
            var lost: [String] = []
            for w in acknowledged.all where byRevision[w.revision] != w {
                lost.append("\(w) (history has \(byRevision[w.revision].map(\.description) ?? "nothing"))")
            }
            XCTAssertEqual(lost, [], "acknowledged writes missing from the store's history")

            let history = Self.pruned(recorder.history(), applied: Set(reference.compactMap(\.value)))
            let completed = history.operations.filter { if case .ok = $0.outcome { true } else { false } }.count
            let result = Linearizability.check(history, limits: Limits(timeBudget: .seconds(120)))
            let faultText = injected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let opText = opCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print("fault schedule seed \(seed): \(history.operations.count) operations checked (\(completed) acknowledged; \(opText)); "
                + "faults: \(faultText); \(watched.count) watch events over \(watcher.streams) streams; "
                + "\(acknowledged.all.count) acknowledged writes found at their revisions; linearizability: \(result)")
            XCTAssertGreaterThan(completed, Int(duration * 10), "too few acknowledged operations to mean something")
            XCTAssertTrue(result.isLinearizable, "\(result)")
            // The check has teeth on this very history: the final read of a key made to return a value that an
            // acknowledged write had already replaced must be refused. (Histories of hours run into the checker's
            // budget a second time; this is for the CI-sized ones.)
            if history.operations.count < 30_000 {
                if let (i, stale) = Self.staleFinalRead(in: history) {
                    var tampered = history
                    tampered.operations[i].outcome = .ok(.value(stale))
                    let verdict = Linearizability.check(tampered, limits: Limits(timeBudget: .seconds(60)))
                    XCTAssertTrue(verdict.isViolation, "a stale final read (\(tampered.operations[i])) was not refused: \(verdict)")
                } else {
                    XCTFail("no acknowledged put followed by another acknowledged write to its key: nothing to tamper with")
                }
            }
        } catch {
            report(cluster, seed: seed, error: error)
            throw error
        }
        if failures.withLock({ !$0.isEmpty }) { report(cluster, seed: seed) }
    }

    /// A final read (client 1000) and a value it must not return in any linearization: one an acknowledged put
    /// or compare-and-set wrote to its key, followed *in real time* by another acknowledged write to that key
    /// (invoked after the put's answer; the final reads come after every client stopped). Taking merely the
    /// second-to-last write by revision is not enough: two overlapping writes may be ordered either way, and a
    /// read of the earlier one is then linearizable.
    static func staleFinalRead(in history: History) -> (index: Int, value: String)? {
        func written(_ input: Input, _ outcome: Outcome) -> String?? {
            switch (input, outcome) {
            case (.put(_, let v), .ok(.done)): return .some(v)
            case (.compareAndSet(_, _, let v), .ok(.succeeded(true))): return .some(v)
            case (.delete, .ok(.deleted(let n))) where n > 0: return .some(nil)
            default: return nil
            }
        }
        for (i, read) in history.operations.enumerated() where read.client == 1000 {
            let writes = history.operations.filter { $0.client != 1000 && $0.input.key == read.input.key && written($0.input, $0.outcome) != nil }
            guard let lastInvoked = writes.map { $0.invokedAt }.max() else { continue }
            // The latest put whose answer came before some other acknowledged write to the key was sent.
            let stale = writes.filter { w in
                guard case .some(.some) = written(w.input, w.outcome), let returned = w.returnedAt else { return false }
                return returned < lastInvoked
            }.max { $0.returnedAt! < $1.returnedAt! }
            if let stale, case .some(.some(let value)) = written(stale.input, stale.outcome) { return (i, value) }
        }
        return nil
    }

    // MARK: failure report

    /// Every failure recorded, kept to be printed once more after the members' logs: CI shows the end of the
    /// output, and the logs would push XCTest's own lines out of it.
    private let failures = Mutex<[String]>([])

    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int, expected: Bool) {
        failures.withLock { $0.append("\(URL(fileURLWithPath: filePath).lastPathComponent):\(lineNumber): \(description)") }
        super.recordFailure(withDescription: description, inFile: filePath, atLine: lineNumber, expected: expected)
    }

    private func report(_ cluster: FaultCluster, seed: UInt64, error: Error? = nil) {
        print(cluster.logs)
        let lines = failures.withLock { $0 } + (error.map { ["thrown: \($0)"] } ?? [])
        print("fault schedule seed \(seed) failed:\n" + lines.map { "  \($0)" }.joined(separator: "\n"))
    }

    // MARK: clients

    /// One client on one member: random operations with unique values; every error is an unknown outcome
    /// (the request may still take effect), after which the client redials.
    static func client(_ c: Int, port: Int, recorder: HistoryRecorder, acknowledged: AcknowledgedWrites,
                       stop: StopFlag) async -> [String: Int] {
        var rng = SeededGenerator(seed: UInt64(c) &* 7919 &+ 17)
        var kv: FaultKVClient?
        var lastSeen: [String: String?] = [:]
        var counts: [String: Int] = [:]
        var n = 0
        while !stop.isSet {
            if kv == nil {
                kv = try? await FaultKVClient.connect(port: port)
                if kv == nil { try? await Task.sleep(for: .milliseconds(50)); continue }
            }
            let key = keys[Int.random(in: 0..<keys.count, using: &rng)]
            n += 1
            let value = "c\(c)-\(n)"
            let roll = Int.random(in: 0..<100, using: &rng)
            let input: Input
            switch roll {
            case ..<30: input = .put(key: key, value: value)
            case ..<52: input = .get(key: key)
            case ..<67: input = .get(key: key, consistency: .serializable)
            case ..<90: input = .compareAndSet(key: key, expected: lastSeen[key] ?? nil, new: value)
            default: input = .delete(key: key)
            }
            let op = recorder.invoke(client: c, input)
            do {
                switch input {
                case .put(let key, let value):
                    let revision = try await kv!.put(key, value)
                    recorder.returned(op, .done)
                    acknowledged.add(.init(revision: revision, key: key, value: value))
                    lastSeen[key] = value
                    counts["put", default: 0] += 1
                case .get(let key, let consistency):
                    let (v, _) = try await kv!.get(key, serializable: consistency == .serializable)
                    recorder.returned(op, .value(v))
                    lastSeen[key] = v
                    counts[consistency == .serializable ? "serializable get" : "linearizable get", default: 0] += 1
                case .compareAndSet(let key, let expected, let new):
                    let (ok, revision) = try await kv!.compareAndSet(key, expected: expected, new: new)
                    recorder.returned(op, .succeeded(ok))
                    if ok {
                        acknowledged.add(.init(revision: revision, key: key, value: new))
                        lastSeen[key] = new
                    }
                    counts[ok ? "cas (held)" : "cas (failed compare)", default: 0] += 1
                case .delete(let key):
                    let (deleted, revision) = try await kv!.delete(key)
                    recorder.returned(op, .deleted(deleted))
                    if deleted > 0 { acknowledged.add(.init(revision: revision, key: key, value: nil)) }
                    lastSeen[key] = .some(nil)
                    counts["delete", default: 0] += 1
                }
            } catch {
                recorder.timedOut(op)
                counts["unknown outcome", default: 0] += 1
                await kv?.close()
                kv = nil
                // A member without a leader fails fast; do not pile up unknown outcomes meanwhile.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        await kv?.close()
        return counts
    }

    /// Resolves unknown outcomes with the store's own history, as etcd's robustness tests do: values are
    /// unique, so an unknown put or compare-and-set whose value no watch event carries never took effect
    /// (the fresh watch from revision 1 is complete; it is itself checked against every acknowledged write
    /// and against the live watcher) and is left out. Unknown gets have no output and no effect: left out
    /// too. Leaving out an operation that did not happen changes nothing; unknown deletes stay unknown.
    static func pruned(_ history: History, applied: Set<String>) -> History {
        History(history.operations.filter { op in
            guard case .unknown = op.outcome else { return true }
            switch op.input {
            case .get: return false
            case .delete: return true
            case .put(_, let v), .compareAndSet(_, _, let v): return applied.contains(v)
            }
        })
    }
}

/// A write the server acknowledged, at the revision its answer carried (value nil: a delete).
struct AcknowledgedWrite: Sendable, Equatable, CustomStringConvertible {
    var revision: Int64
    var key: String
    var value: String?
    var description: String { "rev \(revision) \(value == nil ? "DEL \(key)" : "PUT \(key)=\(value!)")" }
}

final class AcknowledgedWrites: Sendable {
    private let list = Mutex<[AcknowledgedWrite]>([])
    func add(_ w: AcknowledgedWrite) { list.withLock { $0.append(w) } }
    var all: [AcknowledgedWrite] { list.withLock { $0 } }
}

/// A watch on the test's keys that survives broken streams: it reopens on the next member from the last
/// revision it delivered + 1, and checks as it goes that revisions only grow.
final class ResumingWatcher: Sendable {
    private struct State {
        var events: [AcknowledgedWrite] = []
        var orderViolations: [String] = []
        var streams = 0
    }
    private let state = Mutex(State())
    let ports: [Int]

    init(ports: [Int]) { self.ports = ports }

    var events: [AcknowledgedWrite] { state.withLock { $0.events } }
    var orderViolations: [String] { state.withLock { $0.orderViolations } }
    var streams: Int { state.withLock { $0.streams } }
    private var next: Int64 { state.withLock { ($0.events.last?.revision ?? 0) + 1 } }

    func run(until stop: StopFlag) async {
        var member = 0
        while !Task.isCancelled {
            member = (member + 1) % ports.count
            guard let kv = try? await WatchKVClient.connect(port: ports[member]) else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            defer { Task { await kv.close() } }
            guard let stream = try? await WatchClientStream.open(kv.connection) else { continue }
            state.withLock { $0.streams += 1 }
            let ended = StopFlag()
            stream.response.whenComplete { _ in ended.set() }
            stream.create(key: Array("f/".utf8), rangeEnd: Array("f0".utf8), startRevision: next)
            var consumed = 0
            var quietSince = ContinuousClock.now
            while !Task.isCancelled && !ended.isSet {
                let responses = stream.responses
                for r in responses[consumed...] {
                    if r.canceled || r.compactRevision != 0 {
                        state.withLock { $0.orderViolations.append("stream canceled: \(r)") }
                    }
                    for e in r.events { deliver(e) }
                }
                if responses.count > consumed { quietSince = .now }
                consumed = responses.count
                // A member cut off from its peers keeps the stream open but silent; after a while, try another.
                if ContinuousClock.now - quietSince > .seconds(3) && !stop.isSet { break }
                try? await Task.sleep(for: .milliseconds(20))
            }
            stream.close()
        }
    }

    private func deliver(_ e: WatchEventValue) {
        let w = AcknowledgedWrite(revision: e.kv.modRevision, key: String(decoding: e.kv.key, as: UTF8.self),
                                  value: e.isPut ? String(decoding: e.kv.value, as: UTF8.self) : nil)
        state.withLock { s in
            if let last = s.events.last, w.revision <= last.revision {
                s.orderViolations.append("\(w) after \(last)")
                return
            }
            s.events.append(w)
        }
    }

    func waitUntilPast(_ revision: Int64, seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let last = events.last?.revision, last >= revision { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Every event on the test's keys from revision 1 through `revision`, from a fresh watch.
    static func collect(port: Int, through revision: Int64) async throws -> [AcknowledgedWrite] {
        let kv = try await WatchKVClient.connect(port: port)
        defer { Task { await kv.close() } }
        let stream = try await WatchClientStream.open(kv.connection)
        defer { stream.close() }
        stream.create(key: Array("f/".utf8), rangeEnd: Array("f0".utf8), startRevision: 1)
        let done = await stream.wait(until: .now + .seconds(20)) { rs in rs.contains { $0.events.contains { $0.kv.modRevision >= revision } } }
        guard done else { throw HarnessError.notReady("fresh watch never reached revision \(revision)") }
        return stream.responses.flatMap(\.events)
            .filter { $0.kv.modRevision <= revision }
            .map { AcknowledgedWrite(revision: $0.kv.modRevision, key: String(decoding: $0.kv.key, as: UTF8.self),
                                     value: $0.isPut ? String(decoding: $0.kv.value, as: UTF8.self) : nil) }
    }
}

/// SplitMix64, so a seed names one schedule everywhere.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The faults, drawn from a seed: kind, target (the leader or a member by index) and durations. Runs on a
/// thread of its own (it blocks on processes), one fault at a time, each healed before the next, and waits
/// for an agreed leader between faults (a cluster that cannot elect one within 20 s fails the run).
struct FaultSchedule {
    enum Kind: String, CaseIterable { case kill = "SIGKILL+restart", pause = "SIGSTOP/SIGCONT", inboundLoss = "one-way loss into a member", leaderTransfer = "leader transfer",
                                    membership = "member add+promote, then remove", inboundDelay = "one-way delay into a member" }
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func run(on cluster: FaultCluster, for seconds: Double) throws -> [String: Int] {
        var injected: [String: Int] = [:]
        let deadline = Date().addingTimeInterval(seconds)
        var step = 0
        while Date() < deadline {
            let kind = Kind.allCases.randomElement(using: &rng)!
            let atLeader = Bool.random(using: &rng)
            let other = Int.random(in: 0..<cluster.members.count, using: &rng)
            let hold = Double(Int.random(in: 300...2500, using: &rng)) / 1000
            let gap = Double(Int.random(in: 200...1500, using: &rng)) / 1000
            let leader = try cluster.awaitLeader()
            let target = atLeader ? leader : other
            step += 1
            print("fault \(step): \(kind.rawValue) on m\(target)\(target == leader ? " (leader)" : ""), hold \(hold) s")
            switch kind {
            case .kill:
                cluster.kill9(target)
                Thread.sleep(forTimeInterval: hold)
                try cluster.restart(target)
            case .pause:
                cluster.pause(target)
                Thread.sleep(forTimeInterval: hold)
                cluster.resume(target)
            case .inboundLoss:
                cluster.cutInbound(target)
                Thread.sleep(forTimeInterval: hold)
                cluster.restoreInbound(target)
            case .leaderTransfer:
                let to = target == leader ? (leader + 1 + other % 2) % cluster.members.count : target
                let result = try cluster.moveLeader(from: leader, to: to)
                if result.exitCode != 0 { print("  move-leader: \(result.stdout)\(result.stderr)") }
            case .inboundDelay:
                let ms = Int.random(in: 50...400, using: &rng)
                print("  delay \(ms) ms")
                cluster.delayInbound(target, milliseconds: ms)
                Thread.sleep(forTimeInterval: hold)
                cluster.restoreInbound(target)
            case .membership:
                let (guest, id) = try cluster.addGuest(name: "g\(step)", via: leader)
                Thread.sleep(forTimeInterval: hold)
                try cluster.removeGuest(guest, id: id, via: try cluster.awaitLeader())
            }
            injected[kind.rawValue, default: 0] += 1
            Thread.sleep(forTimeInterval: gap)
        }
        return injected
    }
}
