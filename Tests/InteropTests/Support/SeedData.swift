import Testing

/// A small history shared by the side-by-side tests: several keys, overwrites, a delete, so
/// revisions, versions and create/mod revisions all differ from key to key.
/// Revisions after seeding: 2 a=1, 3 b=2, 4 c=3, 5 ab=4, 6 a=11, 7 b2=5, 8 c deleted, 9 c=33, 10 zz=last.
extension SideBySide {
    static let seedCommands: [[String]] = [
        ["put", "a", "1"], ["put", "b", "2"], ["put", "c", "3"], ["put", "ab", "4"],
        ["put", "a", "11"], ["put", "b2", "5"], ["del", "c"], ["put", "c", "33"], ["put", "zz", "last"],
    ]
    static let seededRevision = 10

    func seed(sourceLocation: SourceLocation = #_sourceLocation) throws {
        for command in Self.seedCommands {
            try etcdctl(command, sourceLocation: sourceLocation)
        }
    }
}
