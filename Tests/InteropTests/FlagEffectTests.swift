import Foundation
@testable import KeelConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue #7 item 11, "flags tell the truth", end to end: every flag that FlagTable marks `.implemented`
/// changes what the real `keel` binary does, seen from outside through etcdctl, nghttp, the data dir
/// or the log. (Flags that are not honoured warn or refuse by name: KeelConfigTests' FlagTableTruthTests.)
///
/// Flags are grouped so that a few server starts cover them all. `proofs` maps each implemented flag
/// to the group that shows its effect, and `proofsCoverExactlyTheImplementedFlags` fails when a flag is
/// marked implemented without a proof here, or keeps a proof after it stopped being implemented.
/// The groups run one at a time: the election-timing group measures time, and load skews it.
@Suite(.serialized) struct FlagEffectTests {
    enum Proof: String, CaseIterable, Sendable, CustomStringConvertible {
        case oneMemberManyFlags
        case quietMemberQuotaAndRevisionCompaction
        case loneMembersElectionTiming
        case strictReconfigCheck
        case startupOutcomes
        case transportSecurity
        case gatewayAndMetrics
        case authTokens

        var description: String { rawValue }
    }

    /// Each implemented flag → the group whose test shows its effect (the comment says what is seen).
    static let proofs: [String: Proof] = [
        "name": .oneMemberManyFlags,                           // member list; the derived --initial-cluster
        "data-dir": .oneMemberManyFlags,                       // member/snap (backend, .snap files) there
        "wal-dir": .oneMemberManyFlags,                        // .wal files there, none under data-dir
        "snapshot-count": .oneMemberManyFlags,                 // "saved snapshot" every 25 entries
        "max-snapshots": .oneMemberManyFlags,                  // exactly one .snap file left
        "max-wals": .oneMemberManyFlags,                       // one .wal file left after a second segment
        "max-txn-ops": .oneMemberManyFlags,                    // a 4-op txn refused, a 3-op one applied
        "max-request-bytes": .oneMemberManyFlags,              // 1.15 MB put refused, 1 MB puts applied
        "max-concurrent-streams": .oneMemberManyFlags,         // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
        "listen-client-urls": .oneMemberManyFlags,             // both client URLs serve
        "advertise-client-urls": .oneMemberManyFlags,          // member list clientURLs
        "listen-peer-urls": .oneMemberManyFlags,               // both peer URLs accept connections
        "initial-advertise-peer-urls": .oneMemberManyFlags,    // member list peerURLs
        "initial-cluster-token": .oneMemberManyFlags,          // cluster_id in every response header
        "auto-compaction-retention": .oneMemberManyFlags,      // periodic: old revision compacted (and revision count below)
        "quota-backend-bytes": .quietMemberQuotaAndRevisionCompaction,  // NOSPACE after ~300 kB
        "log-level": .quietMemberQuotaAndRevisionCompaction,   // warn: no info line at all
        "auto-compaction-mode": .quietMemberQuotaAndRevisionCompaction, // revision: keeps exactly the last 5
        "heartbeat-interval": .loneMembersElectionTiming,      // ticks (and etcd's 5x rule, startupOutcomes)
        "election-timeout": .loneMembersElectionTiming,        // no campaign before it elapses
        "initial-election-tick-advance": .strictReconfigCheck, // fast-forward once peers connect, or a whole timeout
        "listen-metrics-urls": .oneMemberManyFlags,            // /metrics and /health on that URL
        "force-new-cluster": .startupOutcomes,                 // restarts an existing member alone, data kept
        "experimental-watch-progress-notify-interval": .startupOutcomes,  // idle progress_notify watchers hear it
        "pre-vote": .loneMembersElectionTiming,                // a member alone never raises its term
        "initial-cluster": .loneMembersElectionTiming,         // member list holds the member never started
        "debug": .loneMembersElectionTiming,                   // debug lines in the log
        "strict-reconfig-check": .strictReconfigCheck,         // member add refused only when it is on
        "initial-cluster-state": .startupOutcomes,             // existing: a fresh member without peers exits
        "version": .startupOutcomes,                           // prints the version and exits
        // TLS (FlagEffectTests+TLS.swift): curl / openssl against the client and peer ports.
        "cert-file": .transportSecurity,                       // the client port presents that certificate
        "key-file": .transportSecurity,                        // ... and completes handshakes with its key
        "trusted-ca-file": .transportSecurity,                 // a client certificate from another CA refused
        "client-cert-auth": .transportSecurity,                // no client certificate: refused
        "client-crl-file": .transportSecurity,                 // a revoked client certificate refused, logged
        "client-cert-allowed-hostname": .transportSecurity,    // a certificate without that SAN refused
        "cipher-suites": .transportSecurity,                   // TLS 1.2 with another suite refused
        "auto-tls": .transportSecurity,                        // fixtures/client/cert.pem (O=etcd) served
        "peer-cert-file": .transportSecurity,                  // the peer port presents that certificate
        "peer-key-file": .transportSecurity,                   // ... and completes handshakes with its key
        "peer-trusted-ca-file": .transportSecurity,            // a peer certificate from another CA refused
        "peer-client-cert-auth": .transportSecurity,           // no peer certificate: refused
        "peer-crl-file": .transportSecurity,                   // a revoked CN=peer certificate refused, logged
        "peer-cert-allowed-cn": .transportSecurity,            // CN=intruder refused
        "peer-cert-allowed-hostname": .transportSecurity,      // a certificate without that SAN refused
        "peer-auto-tls": .transportSecurity,                   // fixtures/peer/cert.pem (O=etcd) served
        "experimental-peer-skip-client-san-verification": .transportSecurity, // SANs not naming the caller pass
        "metrics": .gatewayAndMetrics,                         // extensive: grpc_server_handling_seconds per method
        "enable-grpc-gateway": .gatewayAndMetrics,             // false: /v3/kv/range is a plain 404, gRPC still serves
        // Auth (FlagEffectTests+Auth.swift): tokens through the JSON gateway.
        "auth-token": .authTokens,                             // jwt: an ES256 JWT naming the user, forgeries refused
        "bcrypt-cost": .authTokens,                            // 5: "$2b$05$" in the stored hash
        "auth-token-ttl": .authTokens,                         // 1: an idle simple token is invalid after 2 s
    ]

    @Test func proofsCoverExactlyTheImplementedFlags() {
        let implemented = Set(FlagTable.all.filter { $0.support == .implemented }.map(\.name))
        let proven = Set(Self.proofs.keys)
        #expect(implemented.subtracting(proven).isEmpty,
                "marked implemented without an end-to-end proof: \(implemented.subtracting(proven).sorted())")
        #expect(proven.subtracting(implemented).isEmpty,
                "proof for a flag that is not implemented (warns or refuses): \(proven.subtracting(implemented).sorted())")
        #expect(Set(Self.proofs.values) == Set(Proof.allCases), "a group proves nothing")
    }

    @Test(arguments: Proof.allCases)
    func flagsHaveTheirEffect(_ proof: Proof) async throws {
        switch proof {
        case .oneMemberManyFlags: try await oneMemberManyFlags()
        case .quietMemberQuotaAndRevisionCompaction: try await quietMemberQuotaAndRevisionCompaction()
        case .loneMembersElectionTiming: try loneMembersElectionTiming()
        case .strictReconfigCheck: try strictReconfigCheck()
        case .startupOutcomes: try startupOutcomes()
        case .transportSecurity: try transportSecurity()
        case .gatewayAndMetrics: try gatewayAndMetrics()
        case .authTokens: try await authTokens()
        }
    }

    // MARK: One member, many non-default flags

    private func oneMemberManyFlags() async throws {
        let scratch = try ScratchDirectory(label: "flags-one")
        let dataDir = scratch.child("data")
        let walDir = scratch.child("wal")
        let (client1, client2, peer1, peer2) = (try unclaimedLocalPort(), try unclaimedLocalPort(),
                                                try unclaimedLocalPort(), try unclaimedLocalPort())
        let metricsPort = try unclaimedLocalPort()
        let token = "flag-effects-token"
        let advertised = ["http://127.0.0.1:\(client1)", "http://advertised.example:2379"]
        let server = try ServerProcess(
            kind: .keel, ports: ServerPorts(client: client1, peer: peer1), dataDir: dataDir,
            arguments: [
                "--name", "effect-a", "--data-dir", dataDir, "--wal-dir", walDir,
                "--listen-client-urls", "http://127.0.0.1:\(client1),http://127.0.0.1:\(client2)",
                "--advertise-client-urls", advertised.joined(separator: ","),
                "--listen-peer-urls", "http://127.0.0.1:\(peer1),http://127.0.0.1:\(peer2)",
                // No --initial-cluster: etcd derives "effect-a=<this URL>" from --name and this flag.
                "--initial-advertise-peer-urls", "http://127.0.0.1:\(peer1)",
                "--initial-cluster-token", token,
                "--snapshot-count", "25", "--max-snapshots", "1", "--max-wals", "1",
                "--max-txn-ops", "3", "--max-request-bytes", "1100000", "--max-concurrent-streams", "7",
                "--auto-compaction-retention", "2s",
                "--listen-metrics-urls", "http://127.0.0.1:\(metricsPort)",
            ],
            environment: CommandRunner.cleanEnvironment())
        defer { server.stop() }
        let endpoint = server.endpoint
        #expect(!server.log.contains("is accepted but"), "an honoured flag warns:\n\(server.log)")

        // --name, --initial-advertise-peer-urls, --advertise-client-urls: the published member.
        let list = try Self.etcdctl(endpoint, ["member", "list", "-w", "json"]).requireSuccess()
        let members = try #require(
            (try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [String: Any])?["members"] as? [[String: Any]])
        #expect(members.count == 1)
        #expect(members.first?["name"] as? String == "effect-a", "\(list)")
        #expect(members.first?["peerURLs"] as? [String] == ["http://127.0.0.1:\(peer1)"], "\(list)")
        #expect(Set(members.first?["clientURLs"] as? [String] ?? []) == Set(advertised), "\(list)")

        // --initial-cluster-token: the cluster id etcd derives from the members and the token.
        let clusterText = "effect-a=http://127.0.0.1:\(peer1)"
        let expected = try InitialCluster.parse(clusterText, token: token).get().clusterID
        let withDefaultToken = try InitialCluster.parse(clusterText, token: "etcd-cluster").get().clusterID
        #expect(expected != withDefaultToken)
        let status = try Self.etcdctl(endpoint, ["endpoint", "status", "-w", "json"]).requireSuccess()
        #expect(Self.jsonUInt(status, "cluster_id") == expected, "\(status)")

        // --listen-client-urls: the second URL serves too; --listen-peer-urls: both peer URLs listen.
        try Self.etcdctl("127.0.0.1:\(client2)", ["put", "via-second-url", "yes"]).requireSuccess()
        #expect(try Self.etcdctl(endpoint, ["get", "via-second-url", "--print-value-only"]).requireSuccess() == "yes\n")
        #expect(Self.acceptsTCP(port: peer1) && Self.acceptsTCP(port: peer2))

        // --listen-metrics-urls: /metrics and /health there too (kubeadm's liveness probe uses it), no KV API.
        let metrics = try Curl.get("http://127.0.0.1:\(metricsPort)/metrics")
        #expect(metrics.stdout.contains("etcd_server_has_leader 1"), "\(metrics)")
        #expect(try Curl.get("http://127.0.0.1:\(metricsPort)/health").stdout == #"{"health":"true"}"#)
        #expect(try Self.etcdctl("127.0.0.1:\(metricsPort)", ["get", "x"]).exitCode != 0, "KV served on the metrics URL")

        // --max-concurrent-streams: announced in the server's HTTP/2 SETTINGS (default 4294967295).
        let h2 = try CommandRunner.run("/usr/bin/nghttp", ["-v", "-n", "-t", "10", "http://\(endpoint)/version"],
                                       environment: CommandRunner.cleanEnvironment(), timeoutSeconds: 15)
        #expect(h2.stdout.contains("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7]"), "\(h2)")

        // --max-txn-ops=3.
        let four = try Self.etcdctl(endpoint, ["txn"], stdin: "\nput t1 1\nput t2 2\nput t3 3\nput t4 4\n\n\n")
        #expect(four.exitCode != 0 && four.stderr.contains("etcdserver: too many operations in txn request"), "\(four)")
        let three = try Self.etcdctl(endpoint, ["txn"], stdin: "\nput t1 1\nput t2 2\nput t3 3\n\n\n")
        #expect(three.exitCode == 0 && three.stdout.hasPrefix("SUCCESS"), "\(three)")

        // --max-request-bytes=1100000: 1.15 MB refused (the default 1.5 MiB would take it), 1 MB taken below.
        let tooLarge = try Self.etcdctl(endpoint, ["put", "too-large"], stdin: String(repeating: "x", count: 1_150_000))
        #expect(tooLarge.exitCode != 0 && tooLarge.stderr.contains("etcdserver: request is too large"), "\(tooLarge)")

        // --auto-compaction-retention=2s (periodic): this revision is compacted a few seconds later.
        let first = try Self.etcdctl(endpoint, ["put", "history", "old", "-w", "json"]).requireSuccess()
        let oldRevision = try #require(Self.jsonUInt(first, "revision"))

        // Over 64 MiB of WAL (one segment) in 1 MB puts, snapshotting every 25 entries.
        let writer = try await DurabilityClient.connect(server)
        let value = [UInt8](repeating: 0x61, count: 1_000_000)
        for i in 0..<100 { _ = try await writer.put(Array("big/\(i % 4)".utf8), value) }
        await writer.close()

        // --snapshot-count=25 (default 100000): snapshots were taken; --max-snapshots=1: one file kept.
        let snapDir = dataDir + "/member/snap"
        #expect(Self.occurrences(of: "saved snapshot", in: server.log) >= 3, "\(server.log)")
        let snaps = Self.eventually { Self.files(in: snapDir, suffix: ".snap") }
        #expect(snaps.count == 1, "snap files: \(snaps)")
        // --wal-dir: the WAL lives there only; --max-wals=1: the first segment went once a snapshot passed it.
        #expect(!FileManager.default.fileExists(atPath: dataDir + "/member/wal"))
        let wals = Self.eventually { Self.files(in: walDir, suffix: ".wal") }
        #expect(wals.count == 1, "wal files: \(wals) (a second segment must exist by now)")
        #expect(wals.first.map { !$0.hasPrefix("0000000000000000-") } ?? false, "the first segment is still there: \(wals)")

        var compacted: CommandResult?
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let read = try Self.etcdctl(endpoint, ["get", "history", "--rev", "\(oldRevision)"])
            if read.stderr.contains("required revision has been compacted") { compacted = read; break }
            try Self.etcdctl(endpoint, ["put", "tick", "x"]).requireSuccess()  // periodic compaction needs revisions to move
            try await Task.sleep(for: .milliseconds(200))  // polling an external process
        }
        #expect(compacted != nil, "revision \(oldRevision) never compacted with a 2s retention")
        #expect(server.log.contains("Finished auto-compaction"))
    }

    // MARK: A member logging at warn, with a small quota and revision-count compaction

    private func quietMemberQuotaAndRevisionCompaction() async throws {
        let scratch = try ScratchDirectory(label: "flags-quiet")
        let dataDir = scratch.child("data")
        let ports = try ServerPorts.pick()
        // Revisions 2...21 of one key, written with default flags.
        let first = try ServerProcess.start(.keel, dataDir: dataDir, ports: ports)
        let writer = try await DurabilityClient.connect(first)
        for i in 1...20 { _ = try await writer.put(Array("r".utf8), Array("v\(i)".utf8)) }
        await writer.close()
        first.stop()

        // Restarted: the compactor's first look (a second after start) sees revision 21.
        let server = try ServerProcess(
            kind: .keel, ports: ports, dataDir: dataDir,
            arguments: ServerProcess.standardFlags(dataDir: dataDir, ports: ports) + [
                "--log-level", "warn",
                "--auto-compaction-mode", "revision", "--auto-compaction-retention", "5",
                "--quota-backend-bytes", "300000",
                "--grpc-keepalive-min-time", "1s",  // not honoured: must say so in the log
            ],
            environment: CommandRunner.cleanEnvironment(), waitUntilReady: false)  // no info line to wait for
        defer { server.stop() }
        let endpoint = server.endpoint
        try Self.waitUntilServing(endpoint)

        // --auto-compaction-mode=revision: "5" is a revision count (periodic would read it as 5 hours).
        var compactedAt15: CommandResult?
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let read = try Self.etcdctl(endpoint, ["get", "r", "--rev", "15"])
            if read.stderr.contains("required revision has been compacted") { compactedAt15 = read; break }
            try await Task.sleep(for: .milliseconds(200))  // polling an external process
        }
        #expect(compactedAt15 != nil, "revision 15 was not compacted (current 21, keep 5)")
        #expect(try Self.etcdctl(endpoint, ["get", "r", "--rev", "16", "--print-value-only"]).requireSuccess() == "v15\n")

        // --quota-backend-bytes=300000 (default 2 GiB): 20 kB puts soon hit etcd's NOSPACE.
        let value = String(repeating: "q", count: 20_000)
        var rejected: CommandResult?
        for i in 0..<60 {
            let put = try Self.etcdctl(endpoint, ["put", "big\(i)", value])
            if put.exitCode != 0 { rejected = put; break }
        }
        let refusal = try #require(rejected, "60 puts of 20 kB never hit a 300 kB quota")
        #expect(refusal.stderr.contains("etcdserver: mvcc: database space exceeded"), "\(refusal)")

        // --log-level=warn: warnings are logged (the alarm is raised through Raft, just after the refusal),
        // info lines are not.
        let logDeadline = Date().addingTimeInterval(5)
        while !server.log.contains(" W | keel: alarm raised") && Date() < logDeadline {
            try await Task.sleep(for: .milliseconds(50))  // the server logs on its own thread
        }
        let log = server.log
        #expect(log.contains(" W | keel: alarm raised"), "\(log)")
        #expect(!log.contains(" I | "), "info lines at --log-level=warn:\n\(log)")
        #expect(log.contains(" W | keel: --grpc-keepalive-min-time is accepted but not implemented in Keel yet"), "\(log)")
        #expect(first.log.contains(" I | "))
    }

    // MARK: Members alone in a two-member cluster: election timing

    /// Each member's partner is never started, so nobody wins; how the lone member's term moves shows
    /// when it campaigns. Election timeout 4 s in 10 ticks of 400 ms. Without a leader a member does
    /// not print "ready", so readiness is polled.
    ///
    /// - default (no pre-vote): no peer ever connects, so (as in etcd) no ticks are advanced; the first
    ///   campaign comes within two election timeouts (randomized in [1, 2) timeouts) of the first answer;
    /// - `--initial-election-tick-advance=false`: no campaign before a whole timeout has elapsed since
    ///   the process was started: the term stays 1 until then (this also fails if --election-timeout
    ///   were read short or --heartbeat-interval ignored);
    /// - `--pre-vote`: a pre-candidate never raises its term, however long it is alone.
    private func loneMembersElectionTiming() throws {
        let electionSeconds = 4.0
        let slack = 1.5
        let timing = ["--heartbeat-interval", "400", "--election-timeout", "4000"]
        let advancing = try LoneMember(label: "advance", extraFlags: timing)
        let waiting = try LoneMember(label: "noadvance", extraFlags: timing + ["--initial-election-tick-advance=false"])
        let preVoting = try LoneMember(label: "prevote", extraFlags: timing + ["--pre-vote", "--debug"])
        let lone = [advancing, waiting, preVoting]
        defer { for m in lone { m.process.stop() } }

        var firstAnswer: [Int: Date] = [:]
        var advancingRose: Date?
        var waitingRose: Date?
        var preVotingTerms: Set<UInt64> = []
        let hardDeadline = Date().addingTimeInterval(30)
        while Date() < hardDeadline {
            for (i, m) in lone.enumerated() {
                guard let term = try Self.raftTerm(m.endpoint) else { continue }
                let now = Date()
                if firstAnswer[i] == nil { firstAnswer[i] = now }
                if i == 0, term > 1, advancingRose == nil { advancingRose = now }
                if i == 1, term > 1, waitingRose == nil { waitingRose = now }
                if i == 2 { preVotingTerms.insert(term) }
            }
            let doneAt = firstAnswer.values.max().map { $0.addingTimeInterval(electionSeconds + slack) }
            if firstAnswer.count == 3, advancingRose != nil, waitingRose != nil, let doneAt, Date() > doneAt { break }
            Thread.sleep(forTimeInterval: 0.05)  // polling external processes
        }
        let advancingStart = try #require(firstAnswer[0], "the default lone member never answered:\n\(advancing.process.log)")
        let rose = try #require(advancingRose, "the default lone member never campaigned:\n\(advancing.process.log)")
        #expect(rose.timeIntervalSince(advancingStart) <= 2 * electionSeconds + slack,
                "first campaign \(rose.timeIntervalSince(advancingStart))s after the first answer")
        if let waitingRose {
            #expect(waitingRose.timeIntervalSince(waiting.launched) >= electionSeconds - 0.1,
                    "campaigned \(waitingRose.timeIntervalSince(waiting.launched))s after launch, before one election timeout")
        }
        #expect(firstAnswer[1] != nil && firstAnswer[2] != nil)
        #expect(preVotingTerms == [1], "a lone pre-voting member changed its term: \(preVotingTerms)")

        // --initial-cluster: the partner that never started is a member all the same.
        let list = try Self.etcdctl(advancing.endpoint, ["member", "list"]).requireSuccess()
        #expect(list.contains(", advance-ghost, ") && list.contains(", advance, "), "\(list)")
        // --debug: debug lines (peer dial failures) in that member's log only.
        #expect(preVoting.process.log.contains(" D | "), "\(preVoting.process.log)")
        #expect(!advancing.process.log.contains(" D | "), "\(advancing.process.log)")
    }

    /// A member of {name, name-ghost} whose partner never starts.
    private struct LoneMember {
        let process: ServerProcess
        let launched: Date
        let scratch: ScratchDirectory
        var endpoint: String { process.endpoint }

        init(label: String, extraFlags: [String]) throws {
            scratch = try ScratchDirectory(label: "flags-\(label)")
            let ports = try ServerPorts.pick()
            let ghostPeer = try unclaimedLocalPort()
            let dataDir = scratch.child("data")
            let flags = Array(ServerProcess.standardFlags(name: label, dataDir: dataDir, ports: ports).dropLast(2)) + [
                "--initial-cluster",
                "\(label)=http://127.0.0.1:\(ports.peer),\(label)-ghost=http://127.0.0.1:\(ghostPeer)",
            ] + extraFlags
            launched = Date()
            process = try ServerProcess(kind: .keel, ports: ports, dataDir: dataDir, arguments: flags,
                                        environment: CommandRunner.cleanEnvironment(), waitUntilReady: false)
        }
    }

    // MARK: --strict-reconfig-check in a three-member cluster

    /// s0 checks (the default), s1 does not. With two added members that never start, the cluster has
    /// 3 started voters of 5; a sixth would need 4 started: etcd's check (isReadyToAddVotingMember)
    /// refuses it at once. Without the check the request goes to Raft instead (where etcd commits it and
    /// Keel, at this writing, times out): anything but the check's refusal.
    private func strictReconfigCheck() throws {
        let names = ["s0", "s1", "s2"]
        let scratch = try ScratchDirectory(label: "flags-strict")
        let ports = try names.map { _ in try ServerPorts.pick() }
        let cluster = zip(names, ports).map { "\($0)=http://127.0.0.1:\($1.peer)" }.joined(separator: ",")
        var members: [ServerProcess] = []
        defer { for m in members { m.stop() } }
        for (i, name) in names.enumerated() {
            let dataDir = scratch.child(name)
            let flags = Array(ServerProcess.standardFlags(name: name, dataDir: dataDir, ports: ports[i]).dropLast(2))
                + ["--initial-cluster", cluster, "--heartbeat-interval", "50", "--election-timeout", "500"]
                + (i == 1 ? ["--strict-reconfig-check=false"] : [])
                + (i == 2 ? ["--initial-election-tick-advance=false"] : [])
            members.append(try ServerProcess(kind: .keel, ports: ports[i], dataDir: dataDir, arguments: flags,
                                             environment: CommandRunner.cleanEnvironment(), waitUntilReady: false))
        }
        for m in members { try m.waitUntilReady() }
        // --initial-election-tick-advance (default on): as etcd, a member fast-forwards electionTicks-2
        // ticks once it is connected to more than one peer; with the flag off it waits out the timeout.
        let advanced = members[0].log.contains("fast-forwarding 8 ticks")
        #expect(advanced, "no tick advance with the default flag:\n\(members[0].log)")
        #expect(!members[2].log.contains("fast-forwarding"), "advanced ticks with the flag off:\n\(members[2].log)")
        let checking = members[0].endpoint
        let notChecking = members[1].endpoint
        let refusals = ["etcdserver: unhealthy cluster", "etcdserver: re-configuration failed due to not enough started members"]

        for (i, name) in ["d", "e"].enumerated() {
            let port = try unclaimedLocalPort()
            let add = try Self.etcdctl(checking, ["member", "add", name, "--peer-urls", "http://127.0.0.1:\(port)"])
            #expect(add.exitCode == 0, "add #\(i + 1) (still a started quorum): \(add)")
        }
        let sixth = "http://127.0.0.1:\(try unclaimedLocalPort())"
        let refused = try Self.etcdctl(checking, ["member", "add", "f", "--peer-urls", sixth])
        #expect(refused.exitCode != 0 && refusals.contains { refused.stderr.contains($0) }, "\(refused)")
        let unchecked = try Self.etcdctl(notChecking, ["member", "add", "f", "--peer-urls", sixth], commandTimeout: "2s")
        #expect(!refusals.contains { unchecked.stderr.contains($0) }, "refused without the check: \(unchecked)")
    }

    // MARK: Flags whose effect is how `keel` starts (or does not)

    // MARK: The JSON gateway and metrics levels

    private func gatewayAndMetrics() throws {
        let scratch = try ScratchDirectory(label: "flags-gateway")
        let basic = try ServerProcess.start(.keel, dataDir: scratch.child("basic"))
        let extensive = try ServerProcess.start(.keel, dataDir: scratch.child("extensive"), extraFlags: ["--metrics", "extensive"])
        let noGateway = try ServerProcess.start(.keel, dataDir: scratch.child("nogw"), extraFlags: ["--enable-grpc-gateway=false"])
        for server in [basic, extensive, noGateway] { _ = try Etcdctl(server).run(["put", "k", "v"]) }
        // --metrics: every method counts its calls by code either way; only extensive times them.
        let put = #"grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary""#
        let basicText = try Curl.get(basic.clientURL + "/metrics").stdout
        let extensiveText = try Curl.get(extensive.clientURL + "/metrics").stdout
        #expect(basicText.contains(#"grpc_server_handled_total{grpc_code="OK",\#(put)} 1"#), "\(basicText)")
        #expect(!basicText.contains("grpc_server_handling_seconds"), "\(basicText)")
        #expect(extensiveText.contains(#"grpc_server_handling_seconds_count{\#(put)} 1"#), "\(extensiveText)")
        // --enable-grpc-gateway=false: no /v3 over HTTP (Go's mux 404), while gRPC still serves.
        let off = try Curl.post(noGateway.clientURL + "/v3/kv/range", #"{"key":"aw=="}"#)
        #expect(off.status == 404 && off.body == "404 page not found\n", "\(off)")
        let on = try Curl.post(basic.clientURL + "/v3/kv/range", #"{"key":"aw=="}"#)
        #expect(on.status == 200 && on.body.contains(#""value":"dg==""#), "\(on)")
        #expect(try Etcdctl(noGateway).succeed(["get", "k"]).contains("v"))
    }

    private func startupOutcomes() throws {
        let keel = try ServerBinaries.keel()
        let environment = CommandRunner.cleanEnvironment()

        // --version: etcd's version text, and nothing started.
        let version = try CommandRunner.run(keel, ["--version"], environment: environment)
        #expect(version.exitCode == 0 && version.stdout.hasPrefix("etcd Version: 3.4.23\n"), "\(version)")

        // --initial-cluster-state=existing: a fresh member must learn the cluster from its peers, and
        // with none in --initial-cluster it cannot start (with "new" these flags start a cluster).
        let scratch = try ScratchDirectory(label: "flags-existing")
        let ports = try ServerPorts.pick()
        let existing = try CommandRunner.run(
            keel, ServerProcess.standardFlags(dataDir: scratch.child("data"), ports: ports) + ["--initial-cluster-state", "existing"],
            environment: environment, timeoutSeconds: 20)
        #expect(existing.exitCode != nil && existing.exitCode != 0, "\(existing)")

        // --heartbeat-interval against the default --election-timeout: etcd's rule, timeout >= 5 heartbeats.
        let ticks = try CommandRunner.run(keel, ["--heartbeat-interval", "300"], environment: environment)
        #expect(ticks.exitCode == 1, "\(ticks)")
        #expect(ticks.stderr.contains("--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]"),
                "\(ticks)")

        // --auto-compaction-mode changes how the retention is read: "1s" is a duration, not a revision count.
        let mode = try CommandRunner.run(
            keel, ["--auto-compaction-mode", "revision", "--auto-compaction-retention", "1s"], environment: environment)
        #expect(mode.exitCode == 1 && mode.stderr.contains("error parsing CompactionRetention"), "\(mode)")

        // --force-new-cluster on an existing data dir: the member is restarted alone, its data kept
        // (a 3-member recovery is in ClusterTests); on a fresh data dir it changes nothing.
        let recovering = try ScratchDirectory(label: "flags-force")
        let first = try ServerProcess.start(.keel, dataDir: recovering.child("data"))
        #expect(try Self.etcdctl(first.endpoint, ["put", "kept", "1"]).exitCode == 0)
        first.stop()
        let forced = try ServerProcess.start(.keel, dataDir: recovering.child("data"), extraFlags: ["--force-new-cluster"])
        defer { forced.stop() }
        #expect(forced.log.contains("forcing restart of member"), "\(forced.log)")
        #expect(try Self.etcdctl(forced.endpoint, ["get", "kept", "--print-value-only"]).requireSuccess() == "1\n")

        // --experimental-watch-progress-notify-interval: an idle watcher created with progress_notify
        // hears the current revision at that pace (etcdctl 3.4 cannot ask for it; python etcd3 can).
        let progressScratch = try ScratchDirectory(label: "flags-progress")
        let progress = try ServerProcess.start(.keel, dataDir: progressScratch.child("data"),
                                               extraFlags: ["--experimental-watch-progress-notify-interval", "200ms"])
        defer { progress.stop() }
        let heard = try Python.succeed("""
            import time
            got = []
            wid = c.add_watch_callback("idle", lambda r: got.append(len(r.events)), progress_notify=True)
            deadline = time.time() + 10
            while len(got) < 3 and time.time() < deadline:
                time.sleep(0.05)
            c.cancel_watch(wid)
            out(got[:3])
            """, against: progress)
        #expect(heard == "[0, 0, 0]\n", "progress notifications: \(heard)")
    }

    // MARK: Helpers

    private static func etcdctl(_ endpoint: String, _ arguments: [String], stdin: String? = nil,
                                commandTimeout: String = "10s") throws -> CommandResult {
        try CommandRunner.run(
            ServerBinaries.etcdctl,
            ["--endpoints", endpoint, "--dial-timeout", "2s", "--command-timeout", commandTimeout] + arguments,
            environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]), stdin: stdin, timeoutSeconds: 30)
    }

    /// The member's Raft term from `endpoint status` (answered without a leader), nil if unreachable.
    private static func raftTerm(_ endpoint: String) throws -> UInt64? {
        let result = try CommandRunner.run(
            ServerBinaries.etcdctl,
            ["--endpoints", endpoint, "--dial-timeout", "1s", "--command-timeout", "1s", "endpoint", "status", "-w", "json"],
            environment: CommandRunner.cleanEnvironment(adding: ["ETCDCTL_API": "3"]), timeoutSeconds: 10)
        return result.exitCode == 0 ? jsonUInt(result.stdout, "raft_term") : nil
    }

    private static func waitUntilServing(_ endpoint: String, timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try etcdctl(endpoint, ["get", "any-key"], commandTimeout: "1s").exitCode == 0 { return }
            Thread.sleep(forTimeInterval: 0.1)  // polling an external process
        }
        throw HarnessError.notReady("\(endpoint) did not serve within \(timeout)s")
    }

    /// The first `"key":<digits>` in etcdctl's JSON, read exactly (ids exceed Double's precision).
    private static func jsonUInt(_ json: String, _ key: String) -> UInt64? {
        guard let range = json.range(of: "\"\(key)\":") else { return nil }
        return UInt64(json[range.upperBound...].prefix { $0.isNumber })
    }

    private static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    private static func files(in directory: String, suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// A file count settles once the server's purge ran (it follows the snapshot it belongs to):
    /// polls briefly for a single file, and returns the last listing either way.
    private static func eventually(_ list: () -> [String]) -> [String] {
        let deadline = Date().addingTimeInterval(5)
        var last = list()
        while last.count != 1 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)  // the server purges on its own thread
            last = list()
        }
        return last
    }

    private static func acceptsTCP(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0
    }
}

private extension CommandResult {
    /// stdout of a command that must succeed, or a harness failure with its output.
    @discardableResult
    func requireSuccess() throws -> String {
        guard exitCode == 0 else { throw HarnessError.badOutput("command failed:\n\(self)") }
        return stdout
    }
}
