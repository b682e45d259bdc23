/// `keel --help`, generated from the flag table so it can't drift from what is parsed.
enum HelpText {
    static let usage = """
        Usage:

          keel [flags]
            Start a Keel server (etcd 3.4 compatible flags and ETCD_* variables).

          keel --version
            Show the version of etcd that Keel follows.

          keel -h | --help
            Show the help information about Keel.

        """

    static let full: String = {
        var out = usage
        for section in FlagSection.allCases where section != .legacy {
            out += "\n\(section.rawValue):\n"
            for spec in FlagTable.all where spec.section == section {
                out += "  --\(spec.name) '\(spec.helpDefault ?? spec.defaultText)'\n"
                out += "    \(spec.usage)\n"
                switch spec.support {
                case .implemented: break
                case .warnWhenChanged(let why): out += "    [Keel: accepted with a warning: \(why)]\n"
                case .refuseWhenChanged(let why): out += "    [Keel: refused when set: \(why)]\n"
                case .ignoredLegacy: out += "    [ignored with a warning, as by etcd]\n"
                }
            }
        }
        out += "\nEvery flag can also be set by its environment variable: ETCD_ followed by the flag\n"
        out += "name upper-cased with dashes as underscores (--initial-cluster -> ETCD_INITIAL_CLUSTER).\n"
        out += "A flag given on the command line must not also be set in the environment.\n"
        return out
    }()
}
