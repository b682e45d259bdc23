// Deterministic simulation of Raft clusters under faults.
//
// Default: 5000 seeds (3-, 5- and 1-voter clusters, split into parallel shards; ~25 s on 2 idle cores). More or fewer:
//     KEEL_SIM_SEEDS=20000 swift test --filter SimulationTests
// Replay one failing seed (printed in the failure message) exactly:
//     KEEL_SIM_SEED=1234 swift test --filter SimulationTests
//
// Every run: nodes write each Ready at once but make it durable only some steps later (a crash loses
// the rest; the leader's appends leave before its own write is durable, other messages wait for it,
// committed entries are applied meanwhile), nodes crash and restart from what they persisted, the
// network drops, duplicates, delays, reorders and partitions messages, the operator adds learners,
// promotes them, removes voters (the leader too), transfers leadership, takes snapshots and compacts
// logs; reads go through ReadIndex. Clusters start with 3, 5 or 1 voter(s).
// After every step the SafetyChecker verifies election safety, log matching, leader completeness,
// state machine safety, that every committed index is durable on enough voters that no quorum lacks
// it, monotonic commit indexes (never below what a node persisted) and linearizable read indexes.
// Finally all faults heal and a fresh proposal must commit everywhere within a bounded number of ticks.
// `harnessCatches...` tests check that the harness does catch a leader counting unpersisted entries.
import Foundation
import Testing
@testable import Raft

private let shardCount = 8

private func environmentInt(_ name: String) -> UInt64? {
    ProcessInfo.processInfo.environment[name].flatMap { UInt64($0) }
}

/// Runs one seed: seed % 3 picks 3, 5 or 1 founding voter(s) (a single voter grows to two and back).
func runSimulation(seed: UInt64, configure: (inout SimParameters) -> Void = { _ in }) throws -> SimCluster {
    var p = SimParameters()
    p.voters = [3, 5, 1][Int(seed % 3)]
    configure(&p)
    let cluster = try SimCluster(seed: seed, params: p)
    do {
        try cluster.run()
    } catch let f as SimFailure {
        throw SimFailure(description: "seed \(seed) (\(p.voters) voters) failed at tick \(cluster.now): \(f.description) — replay with KEEL_SIM_SEED=\(seed)")
    }
    return cluster
}

@Suite struct SimulationTests {
    @Test(arguments: 0..<shardCount)
    func simulation(shard: Int) throws {
        if let only = environmentInt("KEEL_SIM_SEED") {
            if shard == 0 { _ = try runSimulation(seed: only) }
            return
        }
        let total = environmentInt("KEEL_SIM_SEEDS") ?? 5000
        var seed = UInt64(shard)
        var totals = (proposals: 0, applied: 0, snapshots: 0, confChanges: 0, reads: 0, crashes: 0, lostWrites: 0)
        var worstLiveness = 0
        while seed < total {
            let c = try runSimulation(seed: seed)
            totals.proposals += c.stats.proposals
            totals.applied += c.stats.applied
            totals.snapshots += c.stats.snapshots
            totals.confChanges += c.stats.confChanges
            totals.reads += c.stats.reads
            totals.crashes += c.stats.crashes
            totals.lostWrites += c.stats.lostWrites
            worstLiveness = max(worstLiveness, c.livenessTicks)
            seed += UInt64(shardCount)
        }
        // The runs must actually exercise the features, not just pass vacuously.
        if total >= 200 {
            #expect(totals.confChanges > 0 && totals.snapshots > 0 && totals.reads > 0 && totals.crashes > 0)
            #expect(totals.lostWrites > 0)
        }
        print("sim shard \(shard): \(totals) worst recovery \(worstLiveness) ticks")
    }

    /// Runs `seeds` with the leader counting its own entries before they are persisted; returns the
    /// failing seeds with their failures.
    private func unsafeFailures(_ seeds: [UInt64], checkDurability: Bool) throws -> [(UInt64, String)] {
        var failures: [(UInt64, String)] = []
        for seed in seeds {
            do {
                _ = try runSimulation(seed: seed) {
                    $0.unsafeCountUnpersistedSelfAck = true
                    $0.checkCommitDurability = checkDurability
                }
            } catch let f as SimFailure {
                failures.append((seed, f.description))
            }
        }
        return failures
    }

    /// The bug of etcd-io/etcd#14370's class (`Config.unsafeCountUnpersistedSelfAck`): the harness
    /// must catch it — in single-voter clusters and, through the commit-durability invariant, in
    /// multi-voter ones too, where an unpersisted leader entry plus one follower's copy made a "quorum".
    @Test func harnessCatchesLeaderCountingUnpersistedEntries() throws {
        let seeds = Array(UInt64(0)..<120)
        let failures = try unsafeFailures(seeds, checkDurability: true)
        #expect(failures.contains { $0.0 % 3 == 2 }, "no single-voter seed failed")
        #expect(failures.contains { $0.0 % 3 != 2 }, "no multi-voter seed failed")
        #expect(failures.allSatisfy { $0.1.contains("durable only on") }, "\(failures)")
        for seed in seeds { _ = try runSimulation(seed: seed) }
    }

    /// Without the durability invariant the same bug shows as real damage: a single voter applies an
    /// entry it has not persisted, crashes, and comes back (and leads) without it.
    @Test func harnessCatchesAcknowledgedEntriesLostByUnpersistedSelfAck() throws {
        let seeds = (UInt64(0)..<100).map { 3 * $0 + 2 }  // single-voter seeds
        let failures = try unsafeFailures(seeds, checkDurability: false)
        #expect(!failures.isEmpty)
        let lost = ["lacks committed entries", "at committed index", "state machine safety", "diverged"]
        #expect(failures.allSatisfy { f in lost.contains { f.1.contains($0) } }, "\(failures)")
        for seed in seeds { _ = try runSimulation(seed: seed) { $0.checkCommitDurability = false } }
    }

    @Test func sameSeedReplaysIdentically() throws {
        let a = try runSimulation(seed: 424242)
        let b = try runSimulation(seed: 424242)
        #expect(a.now == b.now)
        #expect(a.checker.maxCommitted == b.checker.maxCommitted)
        #expect(a.nodes.map(\.appliedHash) == b.nodes.map(\.appliedHash))
    }
}
