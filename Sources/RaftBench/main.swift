// Micro-benchmark: a 3-node Raft cluster in one process (messages handed over in memory, storage in
// memory), proposing small entries in batches. Measures the consensus core only: no disk, no sockets.
//     swift run -c release --scratch-path .build-raft RaftBench [totalEntries] [batchSize]
import Raft

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let args = CommandLine.arguments
let total = args.count > 1 ? Int(args[1]) ?? 1_000_000 : 1_000_000
let batch = args.count > 2 ? Int(args[2]) ?? 1000 : 1000
let ids: [UInt64] = [1, 2, 3]

struct BenchNode {
    let raft: RawNode
    let storage: MemoryStorage
    var applied = 0
}

var nodes: [BenchNode] = ids.map { id in
    let storage = MemoryStorage.bootstrap(voters: ids)
    var c = Config(id: id)
    c.applied = 1
    c.maxInflightMsgs = 256
    c.maxSizePerMsg = 1 << 20
    return BenchNode(raft: try! RawNode(config: c, storage: storage), storage: storage)
}

var inbox: [Message] = []

@MainActor func processReadies() {
    for i in nodes.indices {
        while nodes[i].raft.hasReady {
            let rd = nodes[i].raft.ready()
            let s = nodes[i].storage
            if let snap = rd.snapshot { try! s.applySnapshot(snap) }
            if !rd.entries.isEmpty { try! s.append(rd.entries) }
            if let hs = rd.hardState { s.setHardState(hs) }
            inbox.append(contentsOf: rd.messages)
            for e in rd.committedEntries where e.type == .normal && !e.data.isEmpty { nodes[i].applied += 1 }
            nodes[i].raft.advance(rd)
            // Keep memory flat: compact everything applied except a small tail.
            if let last = rd.committedEntries.last?.index, last > 20_000,
               last - 10_000 > (try! s.firstIndex()) {
                try! s.createSnapshot(index: last - 10_000, confState: nodes[i].raft.appliedConfState, data: [])
                try! s.compact(last - 10_000)
            }
        }
    }
}

@MainActor func deliverAll() {
    while !inbox.isEmpty {
        let msgs = inbox
        inbox.removeAll(keepingCapacity: true)
        for m in msgs { try? nodes[Int(m.to - 1)].raft.step(m) }
        processReadies()
    }
}

try! nodes[0].raft.campaign()
processReadies()
deliverAll()
precondition(nodes[0].raft.status.softState.role == .leader, "node 1 failed to become leader")

let payload: [UInt8] = Array(repeating: 0xab, count: 16)
let batchData = Array(repeating: payload, count: batch)
let start = nowSeconds()
var proposed = 0
var leaderAppliedAt = 0.0
while nodes.contains(where: { $0.applied < total }) {
    if proposed < total && proposed - nodes[0].applied < 64 * batch {
        let n = min(batch, total - proposed)
        do {
            try nodes[0].raft.propose(batch: n == batch ? batchData : Array(batchData[0..<n]))
            proposed += n
        } catch {
            // Uncommitted-size bound: let replication catch up.
        }
    }
    processReadies()
    deliverAll()
    if leaderAppliedAt == 0 && nodes[0].applied >= total { leaderAppliedAt = nowSeconds() }
    // Heartbeats keep followers' commit indexes fresh when proposals stop.
    if proposed >= total { for n in nodes { n.raft.tick() } }
}
let end = nowSeconds()
let committedRate = Double(total) / (leaderAppliedAt - start)
let appliedRate = Double(total) / (end - start)
print("raft-bench: 3 nodes, \(total) entries of \(payload.count) B in batches of \(batch)")
print("  committed (leader applied): \(Int(committedRate)) proposals/s in \(Int((leaderAppliedAt - start) * 1000)) ms")
print("  applied on all 3 nodes:     \(Int(appliedRate)) proposals/s in \(Int((end - start) * 1000)) ms")
