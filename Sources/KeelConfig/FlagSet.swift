/// The values of etcd's flags while they are being read: Go flag-package semantics for the
/// command line (etcdmain/config.go) and etcd's pkg/flags for ETCD_* variables.
struct FlagSet {
    /// Where each explicitly set value came from; used for messages ("ETCD_NAME" vs "--name").
    enum Source: Equatable { case commandLine, environment(String) }

    private(set) var values: [String: FlagValue] = [:]
    private(set) var sources: [String: Source] = [:]
    /// Warnings produced while setting (legacy flags).
    private(set) var warnings: [String] = []

    /// The value in effect: set, or the flag's default.
    func value(_ name: String) -> FlagValue {
        if let v = values[name] { return v }
        guard let spec = FlagTable.byName[name] else { preconditionFailure("unknown flag \(name)") }
        return FlagSet.defaultValue(spec)
    }

    func isSet(_ name: String) -> Bool { values[name] != nil }

    static func defaultValue(_ spec: FlagSpec) -> FlagValue {
        if spec.defaultText.isEmpty, case .urls = spec.kind { return .urls([], exception: nil) }
        switch FlagValue.parse(spec.defaultText, as: spec.kind, previous: nil) {
        case .success(let v): return v
        case .failure(let e): preconditionFailure("bad default for --\(spec.name): \(e)")
        }
    }

    /// flag.Value.Set: parses and stores; the error is Go's text after "invalid value ...: ".
    mutating func set(_ spec: FlagSpec, _ text: String, from source: Source) -> ConfigError? {
        switch FlagValue.parse(text, as: spec.kind, previous: value(spec.name)) {
        case .failure(let e):
            return e
        case .success(let v):
            values[spec.name] = v
            sources[spec.name] = source
            if spec.kind == .legacyIgnored {
                warnings.append("flag \"-\(spec.name)\" is no longer supported - ignoring.")
            }
            return nil
        }
    }

    /// How to name a flag in a message: the env var when that is where the value came from.
    func origin(of name: String) -> String {
        if case .environment(let key)? = sources[name] { return "\(key) (--\(name))" }
        return "--\(name)"
    }
}

/// Go's flag.FlagSet.Parse over etcd's flags.
enum CommandLineScanner {
    enum Stop {
        case done(positional: [String])
        case help
        /// Go's flag package error text (printed with usage, exit 2).
        case failure(String)
    }

    static func scan(_ arguments: [String], into flags: inout FlagSet) -> Stop {
        var args = arguments[...]
        while let s = args.first {
            let chars = Array(s)
            if chars.count < 2 || chars[0] != "-" { break }
            var minuses = 1
            if chars[1] == "-" {
                minuses = 2
                if chars.count == 2 { args = args.dropFirst(); break }  // "--" ends the flags
            }
            var name = String(chars[minuses...])
            if name.isEmpty || name.first == "-" || name.first == "=" {
                return .failure("bad flag syntax: \(s)")
            }
            args = args.dropFirst()
            var value: String? = nil
            if let eq = name.dropFirst().firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let spec = FlagTable.byName[name] else {
                if name == "help" || name == "h" { return .help }
                return .failure("flag provided but not defined: -\(name)")
            }
            if spec.kind.isBool {
                // A bool flag never consumes the next argument: "--enable-v2 false" leaves "false".
                if let e = flags.set(spec, value ?? "true", from: .commandLine) {
                    return .failure("invalid boolean value \"\(value ?? "true")\" for -\(name): \(e.message)")
                }
                continue
            }
            if value == nil, let next = args.first {
                value = next
                args = args.dropFirst()
            }
            guard let text = value else { return .failure("flag needs an argument: -\(name)") }
            if let e = flags.set(spec, text, from: .commandLine) {
                return .failure("invalid value \"\(text)\" for flag -\(name): \(e.message)")
            }
        }
        return .done(positional: Array(args))
    }
}

/// etcd's pkg/flags.SetFlagsFromEnv + verifyEnv (3.4 semantics).
enum EnvironmentOverlay {
    enum Outcome {
        case ok(warnings: [String], used: [String])
        /// etcd 3.4 exits 1 (plog.Fatalf) on a variable shadowed by a flag.
        case shadowed(String)
        case invalid(String)
    }

    static func apply(_ environment: [String: String], to flags: inout FlagSet) -> Outcome {
        let alreadySet = Set(flags.values.keys.map(FlagTable.environmentKey(for:)))
        var usedKeys: Set<String> = []
        var used: [String] = []
        var lastError: String? = nil
        // Go's VisitAll walks flags in name order; etcd keeps the last error.
        for spec in FlagTable.all.sorted(by: { $0.name < $1.name }) {
            let key = spec.environmentKey
            guard !alreadySet.contains(key), let text = environment[key], !text.isEmpty else { continue }
            usedKeys.insert(key)
            if let e = flags.set(spec, text, from: .environment(key)) {
                lastError = "invalid value \"\(text)\" for \(key): \(e.message)"
            } else {
                used.append("\(key)=\(text)")
            }
        }
        var warnings: [String] = []
        for (key, text) in environment.sorted(by: { $0.key < $1.key }) where !usedKeys.contains(key) {
            if alreadySet.contains(key) {
                return .shadowed("conflicting environment variable \"\(key)\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)")
            }
            if key.hasPrefix("ETCD_") { warnings.append("unrecognized environment variable \(key)=\(text)") }
        }
        if let e = lastError { return .invalid(e) }
        return .ok(warnings: warnings, used: used)
    }
}
