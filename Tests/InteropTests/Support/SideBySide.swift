import Testing

/// Real etcd and the subject (keel, or a second etcd) started fresh, so that the same commands
/// applied in the same order must produce the same answers, revisions included.
final class SideBySide {
    let scratch: ScratchDirectory
    let etcd: ServerProcess
    let subject: ServerProcess

    init(label: String) throws {
        scratch = try ScratchDirectory(label: label)
        etcd = try ServerProcess.start(.etcd, dataDir: scratch.child("etcd"))
        subject = try ServerProcess.start(ServerKind.subject, dataDir: scratch.child("subject"))
    }

    /// Runs `etcdctl ARGS` on both and records an issue for any difference in exit code, error
    /// lines, or stdout (JSON compared field by field, ignoring per-server fields).
    /// `etcdSucceeds` guards against vacuous agreement: a typo'd command fails identically on both.
    @discardableResult
    func etcdctl(
        _ arguments: [String], json: Bool = true, stdin: String? = nil, etcdSucceeds: Bool = true,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (etcd: CommandResult, subject: CommandResult) {
        let expected = try Etcdctl(etcd).run(arguments, json: json, stdin: stdin)
        let actual = try Etcdctl(subject).run(arguments, json: json, stdin: stdin)
        let command = "etcdctl \(arguments.joined(separator: " "))"
        #expect((expected.exitCode == 0) == etcdSucceeds, "\(command) against etcd: \(expected)",
                sourceLocation: sourceLocation)
        compareCommandResults(command: command, expected: expected, actual: actual,
                              json: json, subjectLog: subject.log, sourceLocation: sourceLocation)
        return (expected, actual)
    }

    /// Runs the python3-etcd3 script on both and compares its stdout as JSON lines.
    func python(_ script: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Python.run(script, against: etcd)
        let actual = try Python.run(script, against: subject)
        compareCommandResults(command: "python script", expected: expected, actual: actual,
                              json: true, subjectLog: subject.log, sourceLocation: sourceLocation)
        #expect(expected.exitCode == 0, "python against etcd failed: \(expected)", sourceLocation: sourceLocation)
    }

    /// Reap both servers before `scratch` deletes their data dirs under them.
    deinit {
        etcd.kill9()
        subject.kill9()
    }
}

/// Records one issue per kind of difference between etcd's result and the subject's.
func compareCommandResults(
    command: String, expected: CommandResult, actual: CommandResult, json: Bool,
    subjectLog: @autoclosure () -> String, sourceLocation: SourceLocation
) {
    // The server log is only worth its length when the subject failed where etcd did not.
    #expect(expected.status == actual.status,
            "\(command): etcd \(expected.status), subject \(actual.status)\nsubject stderr: \(actual.stderr)\n--- subject log ---\n\(subjectLog())",
            sourceLocation: sourceLocation)
    #expect(expected.etcdctlErrorLines == actual.etcdctlErrorLines,
            "\(command): error lines differ\n etcd: \(expected.etcdctlErrorLines)\n subject: \(actual.etcdctlErrorLines)",
            sourceLocation: sourceLocation)
    let differences = outputDifferences(expected.stdout, actual.stdout, json: json)
    #expect(differences.isEmpty,
            "\(command): stdout differs\n  \(differences.joined(separator: "\n  "))\n etcd: \(expected.stdout)\n subject: \(actual.stdout)",
            sourceLocation: sourceLocation)
}

/// JSON outputs are compared line by line (python prints one document per line; etcdctl one
/// document per command); text that is not JSON is compared exactly.
func outputDifferences(_ expected: String, _ actual: String, json: Bool) -> [String] {
    guard json else { return expected == actual ? [] : ["text differs"] }
    let left = expected.split(separator: "\n").map(String.init)
    let right = actual.split(separator: "\n").map(String.init)
    var found: [String] = []
    if left.count != right.count { found.append("expected \(left.count) lines, actual \(right.count)") }
    for (index, (l, r)) in zip(left, right).enumerated() {
        guard let lhs = try? JSONComparison.parse(l), let rhs = try? JSONComparison.parse(r) else {
            if l != r { found.append("line \(index): '\(l)' vs '\(r)'") }
            continue
        }
        found += JSONComparison.differences(expected: lhs, actual: rhs).map { "line \(index) \($0)" }
    }
    return found
}
