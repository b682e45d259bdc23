import Testing
@testable import KeelConfig

/// Issue #7 item 11, "flags tell the truth". Walks the WHOLE flag table: every flag is honoured
/// (`.implemented`, with an end-to-end proof in Tests/InteropTests/FlagEffectTests.swift), or starts
/// with a warning naming it, or refuses naming it, or is one of etcd's own ignored legacy flags.
/// A flag added to the table without a decision, or without a non-default sample value below that
/// exercises it, fails here.
@Suite struct FlagTableTruthTests {
    /// A non-default value for flags whose kind alone does not give a valid one.
    static let samples: [String: String] = [
        "name": "sample-member",
        "data-dir": "/tmp/keel-sample-data",
        "wal-dir": "/tmp/keel-sample-wal",
        "initial-cluster": "default=http://localhost:2380,other=http://10.0.0.9:2380",
        "initial-cluster-token": "sample-token",
        "auto-compaction-retention": "5m",
        "auto-compaction-mode": "revision",
        "logger": "zap",
        "log-level": "debug",
        "log-package-levels": "etcdserver=DEBUG",
        "auth-token": "jwt,pub-key=a.pem,priv-key=b.pem,sign-method=RS256",
        "bcrypt-cost": "12",
        "discovery": "https://discovery.etcd.io/abc",
        "discovery-proxy": "http://proxy.example:3128",
        "discovery-srv": "example.com",
        "discovery-srv-name": "sample",
        "experimental-enable-v2v3": "/v2prefix",
        "experimental-backend-bbolt-freelist-type": "map",
        "config-file": "/etc/etcd/etcd.conf.yml",
        "cipher-suites": "TLS_AES_128_GCM_SHA256",
        "log-outputs": "stdout",
        "log-output": "stdout",
        "host-whitelist": "a.example",
        "cors": "http://a.example:80",
    ]

    /// Flags whose non-default value is valid only together with another flag.
    static let companions: [String: [String]] = [
        "listen-client-urls": ["--advertise-client-urls", "http://127.0.0.1:2379"],
        "experimental-enable-lease-checkpoint-persist": ["--experimental-enable-lease-checkpoint"],
        // The mode only changes how a non-zero retention is read.
        "auto-compaction-mode": ["--auto-compaction-retention", "10"],
    ]

    /// The only flags allowed to refuse: features whose absence changes safety or meaning.
    static let mayRefuse: Set<String> = [
        // discovery bootstrap and the v2 proxy
        "discovery", "discovery-fallback", "discovery-proxy", "discovery-srv", "discovery-srv-name",
        "proxy", "proxy-failure-wait", "proxy-refresh-interval", "proxy-dial-timeout", "proxy-write-timeout",
        "proxy-read-timeout",
        // a file Keel would not read
        "config-file",
    ]

    /// Implemented flags whose effect is the outcome itself rather than a server setting.
    static let outcomeFlags: [String: ParseOutcome] = ["version": .printVersion]

    static func sample(_ spec: FlagSpec) -> String? {
        if let s = samples[spec.name] { return s }
        switch spec.kind {
        case .bool: return spec.defaultText == "true" ? "false" : "true"
        case .unsigned: return UInt64(spec.defaultText).map { String($0 + 1) }
        case .signed: return Int64(spec.defaultText).map { String($0 + 1) }
        case .uint32: return UInt32(spec.defaultText).map { String($0 == 0 ? 1 : $0 - 1) }
        case .duration: return spec.defaultText == "7s" ? "8s" : "7s"
        case .urls: return "http://127.0.0.1:23999"
        case .choice(let choices): return choices.first { $0 != spec.defaultText }
        case .legacyIgnored: return "true"
        case .string, .stringList, .uniqueStrings: return "sample-value"
        }
    }

    static func parse(_ args: [String], env: [String: String] = [:]) -> ParseOutcome {
        ConfigParser.parse(arguments: args, environment: env)
    }

    @Test func everySupportLevelIsAllowed() {
        for spec in FlagTable.all {
            switch spec.support {
            case .implemented:
                #expect(spec.section != .legacy && spec.section != .proxy, "--\(spec.name)")
            case .warnWhenChanged(let why):
                #expect(!why.isEmpty && !Self.mayRefuse.contains(spec.name), "--\(spec.name) must refuse")
            case .refuseWhenChanged(let why):
                #expect(!why.isEmpty && Self.mayRefuse.contains(spec.name), "--\(spec.name) refuses but is not a refusal flag")
            case .ignoredLegacy:
                #expect(spec.section == .legacy, "--\(spec.name)")
            }
            #expect((spec.section == .legacy) == (spec.support == .ignoredLegacy), "--\(spec.name)")
        }
        // Every flag named above exists (a renamed flag must not leave a stale allowance).
        for name in Self.mayRefuse.union(Self.samples.keys).union(Self.companions.keys) {
            #expect(FlagTable.byName[name] != nil, "unknown flag \(name) in this test")
        }
    }

    /// Sets each flag, alone, to a non-default value, on the command line and through its ETCD_*
    /// variable, and checks the outcome its support level promises.
    @Test(arguments: FlagTable.all.map(\.name))
    func nonDefaultValueDoesWhatTheTableSays(_ name: String) throws {
        let spec = try #require(FlagTable.byName[name])
        let value = try #require(Self.sample(spec), "no non-default sample for --\(name): add one to `samples`")
        #expect(value != spec.defaultText)
        let companions = Self.companions[name] ?? []
        let viaFlag = Self.parse(companions + ["--\(name)=\(value)"])
        let viaEnv = Self.parse(companions, env: [spec.environmentKey: value])

        switch spec.support {
        case .implemented:
            if let expected = Self.outcomeFlags[name] {
                #expect(viaFlag == expected)
                return
            }
            guard case .run(let config, let warnings) = viaFlag, case .run(let envConfig, let envWarnings) = viaEnv,
                  case .run(let baseline, _) = Self.parse(companions) else {
                Issue.record("--\(name)=\(value): expected to start, got \(viaFlag) / \(viaEnv)")
                return
            }
            #expect(!warnings.contains { $0.hasPrefix("--\(name) ") }, "implemented --\(name) warns: \(warnings)")
            #expect(!envWarnings.contains { $0.hasPrefix("\(spec.environmentKey) ") }, "\(envWarnings)")
            // Honoured means it reaches what the server is given.
            #expect(config != baseline, "--\(name)=\(value) leaves ServerConfig unchanged")
            var envConfig2 = envConfig
            envConfig2.environmentUsed = config.environmentUsed
            #expect(envConfig2 == config, "\(spec.environmentKey) differs from --\(name)")

        case .warnWhenChanged(let why):
            guard case .run(_, let warnings) = viaFlag, case .run(_, let envWarnings) = viaEnv else {
                Issue.record("--\(name)=\(value): expected to start with a warning, got \(viaFlag) / \(viaEnv)")
                return
            }
            #expect(warnings.contains("--\(name) is accepted but \(why)"), "\(warnings)")
            #expect(envWarnings.contains("\(spec.environmentKey) (--\(name)) is accepted but \(why)"), "\(envWarnings)")

        case .refuseWhenChanged(let why):
            #expect(viaFlag == .failure(message: "keel: refusing to start: --\(name) is set, but \(why)", exitCode: 2))
            #expect(viaEnv == .failure(
                message: "keel: refusing to start: \(spec.environmentKey) (--\(name)) is set, but \(why)", exitCode: 2))

        case .ignoredLegacy:
            guard case .run(_, let warnings) = viaFlag else {
                Issue.record("--\(name): expected to start, got \(viaFlag)")
                return
            }
            #expect(warnings.contains("flag \"-\(name)\" is no longer supported - ignoring."), "\(warnings)")
        }
    }

    /// Manifests often spell out defaults: a flag at its default never warns or refuses.
    @Test(arguments: FlagTable.all.filter { $0.section != .legacy && $0.name != "version" }.map(\.name))
    func defaultValueIsSilent(_ name: String) throws {
        let spec = try #require(FlagTable.byName[name])
        let outcome = Self.parse((Self.companions[name] ?? []) + ["--\(name)=\(spec.defaultText)"])
        guard case .run(_, let warnings) = outcome else {
            Issue.record("--\(name)=\(spec.defaultText): \(outcome)")
            return
        }
        #expect(!warnings.contains { $0.hasPrefix("--\(name) ") }, "\(warnings)")
    }

    @Test func helpAnnotatesEveryFlagThatIsNotHonoured() {
        for spec in FlagTable.all where spec.section != .legacy {
            let entry = "  --\(spec.name) '\(spec.helpDefault ?? spec.defaultText)'\n    \(spec.usage)\n"
            switch spec.support {
            case .implemented:
                #expect(HelpText.full.contains(entry + "  --") || HelpText.full.contains(entry + "\n"), "--\(spec.name)")
            case .warnWhenChanged(let why):
                #expect(HelpText.full.contains(entry + "    [Keel: accepted with a warning: \(why)]\n"), "--\(spec.name)")
            case .refuseWhenChanged(let why):
                #expect(HelpText.full.contains(entry + "    [Keel: refused when set: \(why)]\n"), "--\(spec.name)")
            case .ignoredLegacy:
                Issue.record("--\(spec.name) is legacy outside the legacy section")
            }
        }
    }

    /// Flags the issue names: --max-concurrent-streams and --force-new-cluster are honoured and must not
    /// claim otherwise.
    @Test func theIssuesExamples() throws {
        let (c, w) = try #require(runConfig(["--data-dir", "/d", "--max-concurrent-streams", "64"]))
        #expect(c.maxConcurrentStreams == 64 && w.isEmpty, "\(w)")
        let (f, fw) = try #require(runConfig(["--data-dir", "/d", "--force-new-cluster"]))
        #expect(f.forceNewCluster && fw.isEmpty, "\(fw)")
        #expect(runConfig(["--data-dir", "/d", "--force-new-cluster=false"])?.warnings == [])
    }
}
