// Encode/decode round trips and malformed input (must throw, never trap).
import Testing
@testable import Raft

@Suite struct CodecTests {
    static let sampleSnapshot = Snapshot(
        metadata: SnapshotMetadata(index: 1 << 40, term: 7, confState: ConfState(voters: [1, 2, 3], learners: [9])),
        data: Array(0..<200).map { UInt8($0 & 0xff) })

    static let sampleMessage = Message(
        type: .app, to: 2, from: 1, term: UInt64.max, logTerm: 3, index: 1000, entries: [
            Entry(term: 3, index: 1001, type: .normal, data: [1, 2, 3]),
            Entry(term: 3, index: 1002, type: .confChange,
                  data: ConfChange(type: .addLearnerNode, nodeID: 4, context: [0xff]).encoded()),
        ], commit: 999, snapshot: sampleSnapshot, reject: true, rejectHint: 12, context: [9, 9])

    @Test func roundTrips() throws {
        let e = Entry(term: 1, index: 300, type: .confChange, data: [0, 255, 128])
        #expect(try Entry.decode(e.encoded()) == e)
        let hs = HardState(term: 5, vote: 3, commit: UInt64.max)
        #expect(try HardState.decode(hs.encoded()) == hs)
        #expect(try Snapshot.decode(Self.sampleSnapshot.encoded()) == Self.sampleSnapshot)
        let cc = ConfChange(type: .removeNode, nodeID: 77, context: Array("peer".utf8))
        #expect(try ConfChange.decode(cc.encoded()) == cc)
        #expect(try Message.decode(Self.sampleMessage.encoded()) == Self.sampleMessage)
        for t in MessageType.allCases {
            let m = Message(type: t, to: 1, from: 2, term: 3)
            #expect(try Message.decode(m.encoded()) == m)
        }
    }

    @Test func manyValuesInOneBuffer() throws {
        var w = RaftWriter()
        let ents = (1...50).map { Entry(term: 2, index: UInt64($0), data: [UInt8($0)]) }
        for e in ents { e.encode(to: &w) }
        var r = RaftReader(w.bytes)
        var back: [Entry] = []
        while r.remaining > 0 { back.append(try Entry.decode(from: &r)) }
        #expect(back == ents)
    }

    @Test func everyTruncationThrows() {
        let bytes = Self.sampleMessage.encoded()
        for n in 0..<bytes.count {
            #expect(throws: RaftCodecError.self) { try Message.decode(Array(bytes[0..<n])) }
        }
    }

    @Test func trailingBytesRejected() {
        #expect(throws: RaftCodecError.trailingBytes(1)) { try HardState.decode(HardState().encoded() + [0]) }
    }

    @Test func badVersionRejected() {
        var bytes = HardState(term: 1).encoded()
        bytes[0] = 2
        #expect(throws: RaftCodecError.unsupportedVersion(2)) { try HardState.decode(bytes) }
    }

    @Test func overlongVarintRejected() {
        let bytes: [UInt8] = [1] + Array(repeating: 0xff, count: 10) + [0x01]
        #expect(throws: RaftCodecError.varintOverflow) { try HardState.decode(bytes) }
    }

    @Test func hugeLengthsDoNotAllocate() {
        // Entry with a data length of 2^62 and a message claiming 2^40 entries.
        var w = RaftWriter()
        w.writeByte(1); w.writeVarint(1); w.writeVarint(1); w.writeByte(0); w.writeVarint(1 << 62)
        #expect(throws: RaftCodecError.truncated) { try Entry.decode(w.bytes) }
        var m = RaftWriter()
        m.writeByte(1); m.writeByte(MessageType.app.rawValue)
        for _ in 0..<6 { m.writeVarint(0) }
        m.writeBool(false); m.writeVarint(0); m.writeVarint(0); m.writeVarint(1 << 40)
        #expect(throws: RaftCodecError.truncated) { try Message.decode(m.bytes) }
    }

    @Test func invalidEnumsRejected() {
        #expect(throws: RaftCodecError.self) { try Message.decode([1, 200]) }
        #expect(throws: RaftCodecError.self) { try ConfChange.decode([1, 9, 1, 0]) }
        #expect(throws: RaftCodecError.self) { try Entry.decode([1, 1, 1, 7, 0]) }
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SplitMix64(seed: 99)
        let valid = Self.sampleMessage.encoded()
        for _ in 0..<3000 {
            var bytes = valid
            // Flip a few bytes of a valid encoding, or generate pure noise.
            if rng.below(2) == 0 {
                for _ in 0..<(1 + Int(rng.below(4))) {
                    bytes[Int(rng.below(UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: rng.next())
                }
            } else {
                bytes = (0..<Int(rng.below(64))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            _ = try? Message.decode(bytes)
            _ = try? Snapshot.decode(bytes)
            _ = try? Entry.decode(bytes)
            _ = try? ConfChange.decode(bytes)
            _ = try? HardState.decode(bytes)
        }
    }
}
