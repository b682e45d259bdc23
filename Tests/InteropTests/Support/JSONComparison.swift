import Foundation

/// Field-by-field comparison of two JSON documents, producing readable differences.
enum JSONComparison {
    /// Identity of the cluster/member and the Raft term are per-server facts, not answers:
    /// two independently bootstrapped servers legitimately differ in them.
    static let perServerFields: Set<String> = ["cluster_id", "member_id", "raft_term"]
    /// Paths beyond this depth mean a runaway document, not an etcd response.
    static let maxDepth = 32

    static func parse(_ text: String) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw HarnessError.badOutput("not JSON (\(error)): \(text)")
        }
    }

    /// Differences as `path: expected=… actual=…` lines; empty when the documents agree.
    static func differences(
        expected: Any, actual: Any, ignoring: Set<String> = perServerFields
    ) -> [String] {
        var found: [String] = []
        walk(expected, actual, path: "$", ignoring: ignoring, depth: 0, into: &found)
        return found
    }

    private static func walk(
        _ expected: Any, _ actual: Any, path: String, ignoring: Set<String>, depth: Int, into found: inout [String]
    ) {
        guard depth < maxDepth else {
            found.append("\(path): nesting deeper than \(maxDepth)")
            return
        }
        switch (expected, actual) {
        case let (left as [String: Any], right as [String: Any]):
            for key in Set(left.keys).union(right.keys).subtracting(ignoring).sorted() {
                switch (left[key], right[key]) {
                case let (l?, r?):
                    walk(l, r, path: "\(path).\(key)", ignoring: ignoring, depth: depth + 1, into: &found)
                case let (l?, nil):
                    found.append("\(path).\(key): expected=\(render(l)) actual=<missing>")
                case let (nil, r?):
                    found.append("\(path).\(key): expected=<missing> actual=\(render(r))")
                case (nil, nil):
                    preconditionFailure("key from the union is in neither side")
                }
            }
        case let (left as [Any], right as [Any]):
            if left.count != right.count {
                found.append("\(path): expected \(left.count) elements, actual \(right.count)")
            }
            for index in 0..<min(left.count, right.count) {
                walk(left[index], right[index], path: "\(path)[\(index)]", ignoring: ignoring,
                     depth: depth + 1, into: &found)
            }
        default:
            if !scalarsEqual(expected, actual) {
                found.append("\(path): expected=\(render(expected)) actual=\(render(actual))")
            }
        }
    }

    private static func scalarsEqual(_ left: Any, _ right: Any) -> Bool {
        switch (left, right) {
        case let (l as String, r as String): return l == r
        case (is NSNull, is NSNull): return true
        case let (l as NSNumber, r as NSNumber): return l == r
        default: return false
        }
    }

    private static func render(_ value: Any) -> String {
        if let string = value as? String { return "\"\(string)\"" }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}
