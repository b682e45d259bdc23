import Foundation
import Testing

// Crash safety of the real server binary: every acknowledged Put survives `kill -9`, a
// corrupted WAL stops the server instead of serving wrong data, and a torn WAL tail is repaired.
// `KEEL_INTEROP_SUBJECT=etcd` runs the same tests against real etcd, which checks the tests.

/// Keys and values are derived from (writer, sequence), so any stored value can be checked.
private enum DurabilityData {
    static let prefix = Array("durability/".utf8)
    /// The prefix's range end: '/' + 1 == '0'.
    static let prefixEnd = Array("durability0".utf8)

    static func key(writer: Int, sequence: Int) -> [UInt8] {
        let digits = String(sequence)
        return Array("durability/w\(writer)/\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)".utf8)
    }

    /// ~100 bytes, unique per key.
    static func value(for key: [UInt8]) -> [UInt8] {
        let head = Array("value-of-".utf8) + key + [UInt8(ascii: "-")]
        return head + (0..<max(0, 100 - head.count)).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }
}

/// One Put the server answered OK.
private struct Acknowledged: Sendable {
    var key: [UInt8]
    var revision: Int64
}

@Suite(.serialized) struct DurabilityTests {
    static let writers = 8
    static let maxPutsPerWriter = 250
    /// Acknowledgements to see before pulling the plug: well inside the writers' total.
    static let killAfterAcks = 400

    @Test func killNineUnderLoadKeepsEveryAcknowledgedPut() async throws {
        let scratch = try ScratchDirectory(label: "durability-kill")
        let dataDir = scratch.child("data")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: dataDir)
        let client = try await DurabilityClient.connect(server)

        let (acks, sink) = AsyncStream.makeStream(of: Acknowledged.self, bufferingPolicy: .unbounded)
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for writer in 0..<Self.writers {
                    group.addTask {
                        for sequence in 0..<Self.maxPutsPerWriter {
                            let key = DurabilityData.key(writer: writer, sequence: sequence)
                            // The first failure is the crash (or a broken server, caught below).
                            guard let revision = try? await client.put(key, DurabilityData.value(for: key)) else { return }
                            sink.yield(Acknowledged(key: key, revision: revision))
                        }
                    }
                }
            }
            sink.finish()
        }
        var acknowledged: [Acknowledged] = []
        for await ack in acks {
            acknowledged.append(ack)
            if acknowledged.count == Self.killAfterAcks { server.kill9() }
        }
        await writers.value
        await client.close()
        server.kill9()  // no-op when already killed; reaps a server the writers gave up on
        try #require(acknowledged.count >= Self.killAfterAcks,
                     "writers failed before the crash (\(acknowledged.count) acks)\n--- log ---\n\(server.log)")
        #expect(Set(acknowledged.map(\.revision)).count == acknowledged.count, "two Puts acknowledged one revision")

        let restarted = try ServerProcess.start(ServerKind.subject, dataDir: dataDir)
        defer { restarted.stop() }
        let reader = try await DurabilityClient.connect(restarted)
        let stored = try await reader.range(from: DurabilityData.prefix, to: DurabilityData.prefixEnd)
        try expectAcknowledgedPresent(acknowledged, in: stored)
        expectOnlyWrittenValues(in: stored)
        // Revisions keep growing after recovery: none is handed out twice.
        let next = try await reader.put(Array("durability-after".utf8), Array("x".utf8))
        #expect(next > acknowledged.map(\.revision).max()!)
        await reader.close()
    }

    @Test func corruptedWALRefusesToStart() async throws {
        let scratch = try ScratchDirectory(label: "durability-corrupt")
        let dataDir = scratch.child("data")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: dataDir)
        let client = try await DurabilityClient.connect(server)
        for sequence in 0..<200 {
            let key = DurabilityData.key(writer: 0, sequence: sequence)
            _ = try await client.put(key, DurabilityData.value(for: key))
        }
        await client.close()
        server.stop()

        let segments = try DurabilityWALFiles.segments(in: dataDir)
        for segment in segments { try DurabilityWALFiles.flipMiddle(of: segment) }

        let result = try CommandRunner.run(
            try ServerBinaries.path(for: ServerKind.subject),
            ServerProcess.standardFlags(dataDir: dataDir, ports: try ServerPorts.pick()),
            environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 15)
        let output = result.stdout + result.stderr
        #expect(!output.contains(ServerProcess.readyMarker), "served from a corrupted WAL:\n\(output)")
        #expect(result.exitCode != 0, "corrupted WAL, yet \(result.status)")
        #expect(result.status != .exited(0))
        let lowered = output.lowercased()
        #expect(["crc", "checksum", "corrupt"].contains { lowered.contains($0) },
                "the refusal should name the damage (crc/checksum/corrupt):\n\(output)")
    }

    @Test func tornWALTailIsRepairedAtRestart() async throws {
        let scratch = try ScratchDirectory(label: "durability-torn")
        let dataDir = scratch.child("data")
        let server = try ServerProcess.start(ServerKind.subject, dataDir: dataDir)
        let client = try await DurabilityClient.connect(server)
        var acknowledged: [Acknowledged] = []
        for sequence in 0..<100 {
            let key = DurabilityData.key(writer: 0, sequence: sequence)
            acknowledged.append(Acknowledged(key: key, revision: try await client.put(key, DurabilityData.value(for: key))))
        }
        await client.close()
        server.kill9()

        // The last record loses its end, as if the machine died mid-append.
        let segments = try DurabilityWALFiles.segments(in: dataDir)
        try DurabilityWALFiles.tearTail(of: segments.last!, bytes: 3)

        let restarted = try ServerProcess.start(ServerKind.subject, dataDir: dataDir)
        defer { restarted.stop() }
        let reader = try await DurabilityClient.connect(restarted)
        let stored = try await reader.range(from: DurabilityData.prefix, to: DurabilityData.prefixEnd)
        // Tearing bytes that were fsynced destroys the record they belong to: with one writer
        // that is at most the newest acknowledged Put. Everything older must be intact.
        try expectAcknowledgedPresent(Array(acknowledged.dropLast()), in: stored)
        if let newest = acknowledged.last, let found = stored[newest.key] {
            #expect(found == .init(value: DurabilityData.value(for: newest.key), modRevision: newest.revision))
        }
        expectOnlyWrittenValues(in: stored)
        _ = try await reader.put(Array("durability-after".utf8), Array("x".utf8))  // and it takes writes
        await reader.close()
    }

    private func expectAcknowledgedPresent(_ acknowledged: [Acknowledged], in stored: [[UInt8]: DurabilityClient.StoredKey]) throws {
        var missing: [String] = []
        for ack in acknowledged {
            guard let found = stored[ack.key] else {
                missing.append(String(decoding: ack.key, as: UTF8.self))
                continue
            }
            #expect(found.value == DurabilityData.value(for: ack.key), "wrong value for \(String(decoding: ack.key, as: UTF8.self))")
            #expect(found.modRevision == ack.revision,
                    "\(String(decoding: ack.key, as: UTF8.self)) acknowledged at revision \(ack.revision), stored at \(found.modRevision)")
        }
        #expect(missing.isEmpty, "\(missing.count) of \(acknowledged.count) acknowledged Puts lost, e.g. \(missing.prefix(5))")
    }

    /// Unacknowledged Puts may or may not be there, but nothing else may be.
    private func expectOnlyWrittenValues(in stored: [[UInt8]: DurabilityClient.StoredKey]) {
        for (key, found) in stored {
            #expect(found.value == DurabilityData.value(for: key), "garbage under \(String(decoding: key, as: UTF8.self))")
        }
    }
}
