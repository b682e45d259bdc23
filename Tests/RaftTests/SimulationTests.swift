// Deterministic simulation of Raft clusters under faults.
//
// Default: 5000 seeds (3- and 5-node clusters, split into parallel shards; ~30 s on 2 cores). More or fewer:
//     KEEL_SIM_SEEDS=20000 swift test --filter SimulationTests
// Replay one failing seed (printed in the failure message) exactly:
//     KEEL_SIM_SEED=1234 swift test --filter SimulationTests
//
// Every run: nodes crash and restart from what they persisted, the network drops, duplicates, delays,
// reorders and partitions messages, the operator adds learners, promotes them, removes voters (the
// leader too), transfers leadership, takes snapshots and compacts logs; reads go through ReadIndex.
// After every step the SafetyChecker verifies election safety, log matching, leader completeness,
// state machine safety, monotonic commit indexes and linearizable read indexes. Finally all faults
// heal and a fresh proposal must commit everywhere within a bounded number of ticks.
import Foundation
import Testing
@testable import Raft

private let shardCount = 8

private func environmentInt(_ name: String) -> UInt64? {
    ProcessInfo.processInfo.environment[name].flatMap { UInt64($0) }
}

/// Runs one seed; odd seeds use 5 voters, even seeds 3.
func runSimulation(seed: UInt64) throws -> SimCluster {
    var p = SimParameters()
    p.voters = seed % 2 == 0 ? 3 : 5
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
        var totals = (proposals: 0, applied: 0, snapshots: 0, confChanges: 0, reads: 0, crashes: 0)
        var worstLiveness = 0
        while seed < total {
            let c = try runSimulation(seed: seed)
            totals.proposals += c.stats.proposals
            totals.applied += c.stats.applied
            totals.snapshots += c.stats.snapshots
            totals.confChanges += c.stats.confChanges
            totals.reads += c.stats.reads
            totals.crashes += c.stats.crashes
            worstLiveness = max(worstLiveness, c.livenessTicks)
            seed += UInt64(shardCount)
        }
        // The runs must actually exercise the features, not just pass vacuously.
        if total >= 200 {
            #expect(totals.confChanges > 0 && totals.snapshots > 0 && totals.reads > 0 && totals.crashes > 0)
        }
        print("sim shard \(shard): \(totals) worst recovery \(worstLiveness) ticks")
    }

    @Test func sameSeedReplaysIdentically() throws {
        let a = try runSimulation(seed: 424242)
        let b = try runSimulation(seed: 424242)
        #expect(a.now == b.now)
        #expect(a.checker.maxCommitted == b.checker.maxCommitted)
        #expect(a.nodes.map(\.appliedHash) == b.nodes.map(\.appliedHash))
    }
}
