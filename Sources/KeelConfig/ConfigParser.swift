/// Reads etcd 3.4's command line and ETCD_* environment into a `ServerConfig`.
/// Pure: no file system, no network, no clock; `keel`'s main prints and exits on the outcome.
public enum ConfigParser {
    /// Bounds on what we accept, so a typo can't ask for absurd resources.
    static let maxArguments = 4096

    public static func parse(arguments: [String], environment: [String: String]) -> ParseOutcome {
        guard arguments.count <= maxArguments else {
            return .failure(message: "too many command-line arguments (\(arguments.count) > \(maxArguments))", exitCode: 2)
        }
        if let first = arguments.first, first == "gateway" || first == "grpc-proxy" {
            return .failure(message: "'etcd \(first)' is not implemented in Keel; only the server mode is", exitCode: 2)
        }

        var flags = FlagSet()
        switch CommandLineScanner.scan(arguments, into: &flags) {
        case .help:
            return .printHelp(HelpText.full)
        case .failure(let text):
            return .failure(message: text + "\n" + HelpText.usage, exitCode: 2)
        case .done(let positional):
            if let extra = positional.first { return verifyError("'\(extra)' is not a valid flag") }
        }
        if flags.value("version").bool { return .printVersion }

        var warnings: [String] = []
        var used: [String] = []
        switch EnvironmentOverlay.apply(environment, to: &flags) {
        case .shadowed(let message): return .failure(message: message, exitCode: 1)
        case .invalid(let message): return verifyError(message)
        case .ok(let w, let u):
            warnings += w
            used = u
        }
        warnings += flags.warnings

        // Features Keel doesn't have: refuse or warn, naming the flag, before anything else.
        for spec in FlagTable.all where flags.isSet(spec.name) && !flags.value(spec.name).isSameSetting(as: FlagSet.defaultValue(spec)) {
            switch spec.support {
            case .implemented, .ignoredLegacy: break  // legacy flags got etcd's own warning when set
            case .warnWhenChanged(let why):
                warnings.append("\(flags.origin(of: spec.name)) is accepted but \(why)")
            case .refuseWhenChanged(let why):
                return .failure(message: "keel: refusing to start: \(flags.origin(of: spec.name)) is set, but \(why)", exitCode: 2)
            }
        }

        switch ConfigBuilder.build(flags) {
        case .success(let (config, buildWarnings)):
            var config = config
            config.environmentUsed = used
            return .run(config, warnings: warnings + buildWarnings)
        case .failure(let failure):
            return .failure(message: failure.message, exitCode: failure.exitCode)
        }
    }

    /// etcd's wording for errors found after flag parsing (exit status 1).
    static func verifyError(_ message: String) -> ParseOutcome {
        .failure(message: "error verifying flags, \(message). See 'keel --help'.", exitCode: 1)
    }
}
