// Raft's safety properties, checked by the simulation after every step (Raft paper, Figure 3).
@testable import Raft

struct SimFailure: Error, CustomStringConvertible {
    var description: String
}

/// 64-bit FNV-1a, then mixed: a cheap stand-in for "the same bytes".
func fingerprint(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}

func entryHash(_ e: Entry) -> UInt64 {
    var h = fingerprint(e.data)
    h ^= e.term &* 0x9E37_79B9_7F4A_7C15
    h ^= e.index &* 0xC2B2_AE3D_27D4_EB4F
    h ^= UInt64(e.type.rawValue) &* 0x1656_67B1_9E37_79F9
    return h
}

/// The application's state: a rolling hash over every applied entry.
func stateHash(_ prev: UInt64, _ e: Entry) -> UInt64 {
    (prev ^ entryHash(e)) &* 0x2127_599B_F432_5C37 &+ 1
}

struct ChainKey: Hashable {
    var index: UInt64
    var term: UInt64
}

/// Global knowledge accumulated over a run, against which every node is checked.
struct SafetyChecker {
    /// term -> the leader of that term (Election Safety).
    private var leaderOfTerm: [UInt64: UInt64] = [:]
    /// (index, term) -> (entry hash, term of the previous entry): equal keys must have equal values,
    /// which by induction is the Log Matching property.
    private var chain: [ChainKey: (hash: UInt64, prevTerm: UInt64)] = [:]
    /// index -> committed entry (term, hash), learned when any node applies it (State Machine Safety).
    private(set) var committed: [UInt64: (term: UInt64, hash: UInt64)] = [:]
    private(set) var maxCommitted: UInt64 = 0
    /// index -> the application state hash after applying that index.
    private var stateAt: [UInt64: UInt64] = [:]

    mutating func leaderElected(_ id: UInt64, term: UInt64) throws {
        if let other = leaderOfTerm[term], other != id {
            throw SimFailure(description: "two leaders in term \(term): \(other) and \(id)")
        }
        leaderOfTerm[term] = id
    }

    /// An entry enters a node's log after an entry of term `prevTerm`.
    mutating func appended(_ e: Entry, prevTerm: UInt64, node: UInt64) throws {
        let key = ChainKey(index: e.index, term: e.term)
        let value = (hash: entryHash(e), prevTerm: prevTerm)
        if let known = chain[key] {
            if known.hash != value.hash || known.prevTerm != value.prevTerm {
                throw SimFailure(description: "log matching violated at node \(node), index \(e.index) term \(e.term)")
            }
        } else {
            chain[key] = value
        }
    }

    mutating func applied(_ e: Entry, stateAfter: UInt64, node: UInt64) throws {
        let h = entryHash(e)
        if let c = committed[e.index] {
            if c.term != e.term || c.hash != h {
                throw SimFailure(description: "state machine safety: node \(node) applied a different entry at \(e.index) (term \(e.term) vs committed term \(c.term))")
            }
        } else {
            committed[e.index] = (e.term, h)
            maxCommitted = max(maxCommitted, e.index)
        }
        try checkState(index: e.index, hash: stateAfter, node: node)
    }

    mutating func checkState(index: UInt64, hash: UInt64, node: UInt64) throws {
        if let s = stateAt[index] {
            if s != hash { throw SimFailure(description: "node \(node) state after index \(index) diverged") }
        } else {
            stateAt[index] = hash
        }
    }

    func snapshotInstalled(index: UInt64, term: UInt64, node: UInt64) throws {
        if let c = committed[index], c.term != term {
            throw SimFailure(description: "node \(node) installed a snapshot at \(index) with term \(term), committed term is \(c.term)")
        }
    }

    /// Leader Completeness: a new leader's log holds every entry known to be committed.
    func checkLeaderComplete(node: UInt64, log: RaftLog) throws {
        let first = log.firstIndex
        let last = log.lastIndex
        guard maxCommitted >= first else { return }
        if last < maxCommitted {
            throw SimFailure(description: "leader \(node) lacks committed entries: last index \(last) < \(maxCommitted)")
        }
        for i in first...maxCommitted {
            guard let c = committed[i] else { continue }
            let t = try log.term(i)
            if t != c.term {
                throw SimFailure(description: "leader \(node) has term \(t) at committed index \(i), expected \(c.term)")
            }
        }
    }
}
