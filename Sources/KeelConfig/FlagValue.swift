/// How a flag's text is parsed; mirrors the Go flag.Value type etcd registers it with.
enum FlagKind: Sendable, Equatable {
    case string
    case bool
    /// flag.UintVar / Uint64Var / IntVar / Int64Var (64-bit on the platforms etcd ships for).
    case unsigned
    case signed
    /// etcd's flags.uint32Value, which reports raw strconv errors.
    case uint32
    /// flag.DurationVar (Go duration syntax).
    case duration
    /// flags.UniqueURLs; `exception` is a literal also accepted ("*" for --cors, "" for URL flags).
    case urls(exception: String)
    /// flags.SelectiveStringValue.
    case choice([String])
    /// flags.StringsValue (--cipher-suites): comma split, order kept.
    case stringList
    /// flags.UniqueStringsValue: comma split, deduplicated, sorted.
    case uniqueStrings
    /// flags.IgnoredFlag: legacy flags that only print a warning.
    case legacyIgnored

    var isBool: Bool { self == .bool || self == .legacyIgnored }
}

/// A parsed flag value.
enum FlagValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case unsigned(UInt64)
    case signed(Int64)
    /// Nanoseconds.
    case duration(Int64)
    /// `exception` holds the accepted literal when the flag was set to it.
    case urls([EtcdURL], exception: String?)
    case strings([String])
    case ignored

    /// Parses `text` as Go's flag.Value.Set would; the error is the text after "...: ".
    static func parse(_ text: String, as kind: FlagKind, previous: FlagValue?) -> Result<FlagValue, ConfigError> {
        switch kind {
        case .string:
            return .success(.string(text))
        case .bool:
            guard let b = GoParse.bool(text) else { return .failure(ConfigError("parse error")) }
            return .success(.bool(b))
        case .unsigned:
            return GoParse.unsigned(text, bits: 64).map(FlagValue.unsigned).mapError { ConfigError($0.flagText) }
        case .signed:
            return GoParse.signed(text).map(FlagValue.signed).mapError { ConfigError($0.flagText) }
        case .uint32:
            return GoParse.unsigned(text, bits: 32).map(FlagValue.unsigned)
                .mapError { ConfigError($0.strconvText(function: "ParseUint", input: text)) }
        case .duration:
            guard let ns = GoParse.duration(text) else { return .failure(ConfigError("parse error")) }
            return .success(.duration(ns))
        case .urls(let exception):
            if text == exception {
                // etcd's UniqueURLs records the exception but keeps the URLs it had.
                if case .urls(let old, _)? = previous { return .success(.urls(old, exception: text)) }
                return .success(.urls([], exception: text))
            }
            return EtcdURL.parseList(text).map { FlagValue.urls($0, exception: nil) }
        case .choice(let valids):
            return valids.contains(text) ? .success(.string(text)) : .failure(ConfigError("invalid value"))
        case .stringList:
            return .success(.strings(text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        case .uniqueStrings:
            let set = Set(text.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            return .success(.strings(set.sorted()))
        case .legacyIgnored:
            return .success(.ignored)
        }
    }

    /// Equal as a setting: `--listen-metrics-urls=` (the empty exception) is the empty default.
    func isSameSetting(as other: FlagValue) -> Bool {
        if case .urls(let a, let x) = self, case .urls(let b, let y) = other { return a == b && (x ?? "") == (y ?? "") }
        return self == other
    }

    var string: String { if case .string(let s) = self { return s }; preconditionFailure("not a string: \(self)") }
    var bool: Bool { if case .bool(let b) = self { return b }; preconditionFailure("not a bool: \(self)") }
    var unsigned: UInt64 { if case .unsigned(let v) = self { return v }; preconditionFailure("not unsigned: \(self)") }
    var signed: Int64 { if case .signed(let v) = self { return v }; preconditionFailure("not signed: \(self)") }
    var duration: Duration {
        if case .duration(let ns) = self { return .nanoseconds(ns) }
        preconditionFailure("not a duration: \(self)")
    }
    var urls: [EtcdURL] { if case .urls(let u, _) = self { return u }; preconditionFailure("not URLs: \(self)") }
    var strings: [String] { if case .strings(let s) = self { return s }; preconditionFailure("not strings: \(self)") }
}
