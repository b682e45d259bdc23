/// etcd's checks on --initial-cluster when a member starts with an empty data dir
/// (etcdserver/config.go VerifyBootstrap / VerifyJoinExisting, membership.NewClusterFromURLsMap).
/// They are not part of `ConfigParser.parse` because etcd skips them when the data dir already
/// holds a member: the server must call `verifyBootstrap()` only before creating a fresh data dir.
extension ServerConfig {
    /// The ids a fresh member starts with, or the error etcd would exit with (status 1).
    ///
    /// `resolve` turns a host name into an address, as etcd's advertiseMatchesCluster does when the URL
    /// strings differ (a StatefulSet advertises `http://etcd-0:2380` while --initial-cluster says
    /// `http://etcd-0.etcd:2380`; both name the pod). nil, or a host it cannot resolve, means strings only.
    public func verifyBootstrap(resolve: ((String) -> String?)? = nil) -> Result<(memberID: UInt64, clusterID: UInt64), ConfigError> {
        let cluster = initialCluster
        guard let local = cluster.member(named: name) else {
            return .failure(ConfigError("couldn't find local name \"\(name)\" in the initial cluster configuration"))
        }
        if initialClusterState == .new, let e = advertiseMismatch(local), !resolvedEqual(local, resolve) { return .failure(e) }
        var seenURLs: Set<String> = []
        for m in cluster.members {
            for u in m.peerURLs where !seenURLs.insert(u.canonical).inserted {
                return .failure(ConfigError("initial cluster \(urlsMapText(cluster)) has duplicate url"))
            }
        }
        var seenIDs: Set<UInt64> = []
        for m in cluster.members {
            if m.id == 0 { return .failure(ConfigError("cannot use 0 as member id")) }
            if !seenIDs.insert(m.id).inserted {
                return .failure(ConfigError("member exists with identical ID \(String(m.id, radix: 16)) (\(m.name))"))
            }
        }
        return .success((local.id, cluster.clusterID))
    }

    /// etcd's URLStringsEqual after resolving: each URL becomes scheme://address:port, the sorted lists
    /// must be equal. Any host that does not resolve makes the answer "not equal".
    private func resolvedEqual(_ local: InitialCluster.Member, _ resolve: ((String) -> String?)?) -> Bool {
        guard let resolve else { return false }
        func resolved(_ urls: [EtcdURL]) -> [String]? {
            var out: [String] = []
            for u in urls {
                guard let address = resolve(u.host) else { return nil }
                out.append("\(u.scheme.rawValue)://\(address):\(u.portText)")
            }
            return out.sorted()
        }
        guard let a = resolved(initialAdvertisePeerURLs), let b = resolved(local.peerURLs) else { return false }
        return a == b
    }

    /// advertiseMatchesCluster's comparison of the URL strings (and etcd's error texts when they differ).
    private func advertiseMismatch(_ local: InitialCluster.Member) -> ConfigError? {
        let inCluster = local.peerURLs.map(\.canonical).sorted()
        let advertised = initialAdvertisePeerURLs.map(\.canonical).sorted()
        if inCluster == advertised { return nil }
        let reason: String
        if inCluster.count != advertised.count {
            reason = "len(\(goQuoted(advertised))) != len(\(goQuoted(inCluster)))"
        } else {
            let i = advertised.indices.first { advertised[$0] != inCluster[$0] } ?? 0
            reason = "resolved urls: \"\(advertised[i])\" != \"\(inCluster[i])\""
        }
        let apSet = Set(advertised)
        let missingFromAP = inCluster.filter { !apSet.contains($0) }
        if !missingFromAP.isEmpty {
            let m = missingFromAP.map { "\(name)=\($0)" }.joined(separator: ",")
            return ConfigError("--initial-cluster has \(m) but missing from --initial-advertise-peer-urls=\(advertised.joined(separator: ",")) (\(reason))")
        }
        let clusterSet = Set(inCluster)
        let missingFromCluster = advertised.filter { !clusterSet.contains($0) }
        let ours = advertised.map { "\(name)=\($0)" }.joined(separator: ",")
        if !missingFromCluster.isEmpty {
            return ConfigError("--initial-advertise-peer-urls has \(missingFromCluster.joined(separator: ",")) but missing from --initial-cluster=\(ours)")
        }
        // Same sets, different multiplicity (a URL repeated on one side).
        return ConfigError("failed to resolve \(advertised.joined(separator: ",")) to match --initial-cluster=\(ours) (\(reason))")
    }

    private func urlsMapText(_ c: InitialCluster) -> String {
        c.members.flatMap { m in m.peerURLs.map { "\(m.name)=\($0.canonical)" } }.sorted().joined(separator: ",")
    }

    private func goQuoted(_ list: [String]) -> String { "[" + list.map { "\"\($0)\"" }.joined(separator: " ") + "]" }
}
