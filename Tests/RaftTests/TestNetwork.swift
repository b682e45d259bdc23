// A small synchronous cluster for unit tests: messages are delivered instantly unless a link is cut.
@testable import Raft

final class TestNetwork {
    struct Peer {
        var raft: RawNode
        var storage: MemoryStorage
        var applied: [[UInt8]] = []
        var readStates: [ReadState] = []
    }

    var peers: [UInt64: Peer] = [:]
    var ids: [UInt64] { peers.keys.sorted() }
    /// Links that drop messages (both directions are listed separately).
    var cut: Set<[UInt64]> = []
    /// Message types dropped everywhere.
    var dropTypes: Set<MessageType> = []
    var configure: (inout Config) -> Void

    init(voters: [UInt64], configure: @escaping (inout Config) -> Void = { _ in }) {
        self.configure = configure
        for id in voters { add(id, storage: MemoryStorage.bootstrap(voters: voters)) }
    }

    func config(_ id: UInt64) -> Config {
        var c = Config(id: id, randomSeed: id)
        c.electionTick = 10
        c.heartbeatTick = 1
        configure(&c)
        return c
    }

    func add(_ id: UInt64, storage: MemoryStorage = MemoryStorage()) {
        var c = config(id)
        c.applied = storage.currentSnapshot.metadata.index
        peers[id] = Peer(raft: try! RawNode(config: c, storage: storage), storage: storage)
    }

    func raft(_ id: UInt64) -> RawNode { peers[id]!.raft }
    func core(_ id: UInt64) -> RaftCore { peers[id]!.raft.core }

    func isolate(_ id: UInt64) {
        for other in ids where other != id {
            cut.insert([id, other])
            cut.insert([other, id])
        }
    }

    func heal() { cut.removeAll() }

    /// Handles one Ready of `id` the way an application must, returning the messages to send.
    func processReady(_ id: UInt64) -> [Message] {
        guard var p = peers[id], p.raft.hasReady else { return [] }
        let rd = p.raft.ready()
        if let s = rd.snapshot { try! p.storage.applySnapshot(s) }
        try! p.storage.append(rd.entries)
        if let hs = rd.hardState { p.storage.setHardState(hs) }
        for e in rd.committedEntries {
            if e.type == .confChange {
                p.raft.applyConfChange(try! ConfChange.decode(e.data))
            } else if !e.data.isEmpty {
                p.applied.append(e.data)
            }
        }
        p.readStates.append(contentsOf: rd.readStates)
        p.raft.advance(rd)
        peers[id] = p
        return rd.messages
    }

    /// Delivers messages until the cluster is quiet: nothing in flight and no Ready pending (an
    /// `advance` can itself make progress, e.g. a leader's own entries become committable).
    func stabilize(maxRounds: Int = 1000) {
        for _ in 0..<maxRounds {
            var msgs: [Message] = []
            for id in ids { msgs.append(contentsOf: processReady(id)) }
            if msgs.isEmpty && !ids.contains(where: { raft($0).hasReady }) { return }
            for m in msgs { deliver(m) }
        }
        Issue.record("network did not stabilize")
    }

    func deliver(_ m: Message) {
        guard !cut.contains([m.from, m.to]), !dropTypes.contains(m.type), let p = peers[m.to] else { return }
        try? p.raft.step(m)
    }

    func tick(_ id: UInt64, _ n: Int = 1) {
        for _ in 0..<n {
            raft(id).tick()
            stabilize()
        }
    }

    func tickAll(_ n: Int) {
        for _ in 0..<n {
            for id in ids { raft(id).tick() }
            stabilize()
        }
    }

    func elect(_ id: UInt64) {
        try! raft(id).campaign()
        stabilize()
    }

    func role(_ id: UInt64) -> NodeRole { raft(id).status.softState.role }
    func term(_ id: UInt64) -> UInt64 { raft(id).status.hardState.term }
    func lead(_ id: UInt64) -> UInt64 { raft(id).status.softState.lead }
    func applied(_ id: UInt64) -> [[UInt8]] { peers[id]!.applied }
}

import Testing
