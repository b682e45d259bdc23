/// --initial-cluster parsed into members, with the ids etcd derives from it at bootstrap
/// (etcdserver/api/membership: NewMember and RaftCluster.genID).
public struct InitialCluster: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public let name: String
        /// Sorted by canonical string, as etcd's types.URLs are.
        public let peerURLs: [EtcdURL]
        /// sha1(sorted peer URLs ++ cluster token), first 8 bytes big-endian.
        public let id: UInt64
    }

    /// Members in order of first appearance in the flag (etcd keeps a map; order is only cosmetic).
    public let members: [Member]
    /// sha1 over the sorted member ids (8 bytes big-endian each), first 8 bytes big-endian.
    public let clusterID: UInt64
    public let token: String
    /// The flag text this was parsed from (after etcd's default-name substitution).
    public let text: String

    /// Parses "n1=http://a:2380,n1=http://b:2380,n2=http://c:2380" like etcd's types.NewURLsMap.
    public static func parse(_ text: String, token: String) -> Result<InitialCluster, ConfigError> {
        var order: [String] = []
        var raw: [String: [String]] = [:]
        for piece in text.split(separator: ",", omittingEmptySubsequences: true) {
            let key: String
            let value: String
            if let eq = piece.firstIndex(of: "=") {
                key = String(piece[..<eq])
                value = String(piece[piece.index(after: eq)...])
            } else {
                key = String(piece)
                value = ""
            }
            if raw[key] == nil { order.append(key) }
            raw[key, default: []].append(value)
        }
        var members: [Member] = []
        members.reserveCapacity(order.count)
        for name in order {
            var urls: [EtcdURL] = []
            for s in raw[name]! {
                switch EtcdURL.parse(s) {
                case .success(let u): urls.append(u)
                case .failure(let e): return .failure(e)
                }
            }
            urls.sort { $0.canonical < $1.canonical }
            members.append(Member(name: name, peerURLs: urls, id: memberID(peerURLs: urls, token: token)))
        }
        return .success(InitialCluster(members: members, clusterID: clusterID(memberIDs: members.map(\.id)),
                                       token: token, text: text))
    }

    public func member(named name: String) -> Member? { members.first { $0.name == name } }

    /// etcd's NewMember with a nil time (bootstrap members): no timestamp is hashed.
    public static func memberID(peerURLs: [EtcdURL], token: String) -> UInt64 {
        var bytes: [UInt8] = []
        for u in peerURLs.map(\.canonical).sorted() { bytes.append(contentsOf: Array(u.utf8)) }
        bytes.append(contentsOf: Array(token.utf8))
        return SHA1.prefixUInt64(bytes)
    }

    /// etcd's NewMember for a member added at run time (MemberAdd): the sorted peer URLs, the cluster
    /// name (empty there) and the time in Unix seconds are hashed.
    public static func memberID(peerURLs: [String], clusterName: String = "", unixSeconds: Int64) -> UInt64 {
        var bytes: [UInt8] = []
        for u in peerURLs.sorted() { bytes.append(contentsOf: Array(u.utf8)) }
        bytes.append(contentsOf: Array(clusterName.utf8))
        bytes.append(contentsOf: Array(String(unixSeconds).utf8))
        return SHA1.prefixUInt64(bytes)
    }

    /// etcd's RaftCluster.genID.
    public static func clusterID(memberIDs: [UInt64]) -> UInt64 {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(memberIDs.count * 8)
        for id in memberIDs.sorted() {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: id >> UInt64(shift))) }
        }
        return SHA1.prefixUInt64(bytes)
    }
}
