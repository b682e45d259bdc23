import Gateway
import Atomics
import Backend
import Foundation
import KeelConfig
import Logging
import MVCC
import NIOCore
import NIOPosix
import PeerTransport
import Raft
import RPC
import Transport
import WAL

/// A running Keel member: data dir, Raft loop and applier, peer transport, services and client listeners.
public final class KeelServer: Sendable {
    public let clientPorts: [Int]
    public let peerPorts: [Int]
    private let transport: TransportServer
    private let metrics: TransportServer
    private let peers: PeerTransport
    private let group: MultiThreadedEventLoopGroup
    private let context: ServerContext
    private let logger: Logger
    private let autoCompaction: AutoCompaction?
    private let publisher: AttributePublisher
    private let leaseExpiry: LeaseExpiry

    private init(clientPorts: [Int], peerPorts: [Int], transport: TransportServer, metrics: TransportServer, peers: PeerTransport,
                 group: MultiThreadedEventLoopGroup, context: ServerContext, logger: Logger,
                 autoCompaction: AutoCompaction?, publisher: AttributePublisher, leaseExpiry: LeaseExpiry) {
        self.leaseExpiry = leaseExpiry
        self.clientPorts = clientPorts
        self.peerPorts = peerPorts
        self.transport = transport
        self.metrics = metrics
        self.peers = peers
        self.group = group
        self.context = context
        self.logger = logger
        self.autoCompaction = autoCompaction
        self.publisher = publisher
    }

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Opens (or bootstraps) the data dir, recovers Raft from the WAL, and starts serving.
    public static func start(config: ServerConfig, logger: Logger) async throws -> KeelServer {
        let layout = DataLayout(dataDir: config.dataDir, walDir: config.walDir)
        let fresh = !WAL.exists(directory: layout.walDir)
        if fresh {
            // Bootstrap checks run only for a new member, as in etcd, and before anything is created on disk.
            if case .failure(let error) = config.verifyBootstrap(resolve: HostResolver.firstAddress) { throw StartupError(error.message) }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        do {
            return try await start(config: config, layout: layout, fresh: fresh, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func start(config: ServerConfig, layout: DataLayout, fresh: Bool, group: MultiThreadedEventLoopGroup,
                              logger: Logger) async throws -> KeelServer {
        let tls = try ServerTLS.make(config: config, logger: logger)
        // A member joining an existing cluster asks its peers who it is before anything is written.
        var joining: (memberID: UInt64, cluster: ClusterDescription)?
        if fresh && config.initialClusterState == .existing {
            joining = try await fetchJoinIdentity(config: config, group: group, tls: tls.peerDialer, logger: logger)
        }
        try layout.create()
        let quota = config.effectiveQuotaBackendBytes ?? unlimitedQuotaBytes
        // An existing member keeps the identity its WAL records; a new one takes it from the flags.
        var existing: Identity?
        if !fresh { existing = try openWAL(layout: layout) }
        guard let memberID = existing?.memberID ?? joining?.memberID ?? config.localMemberID else {
            throw StartupError("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
        }
        let backend = try Backend(config: BackendConfig(directory: layout.backendDir, quotaBytes: quota, memberID: memberID))
        let store = try MVCCStore(backend: backend) { error in
            // Every member applies the same log; one whose backend refuses an entry must not answer
            // differently from the others (etcd panics the same way).
            logger.critical("failed to apply a committed entry in the backend; stopping", metadata: ["error": "\(error)"])
            fatalError("backend failed while applying a committed entry: \(error)")
        }
        let members = MemberRegistry()
        let identity: Identity
        if let existing {
            identity = existing
        } else if let joining {
            identity = try bootstrapJoiningMember(memberID: joining.memberID, cluster: joining.cluster, layout: layout,
                                                  store: store, members: members, logger: logger)
        } else {
            identity = try bootstrapNewCluster(config: config, layout: layout, store: store, members: members, logger: logger)
        }
        let wal = identity.wal
        if let repair = identity.replay.repair {
            logger.warning("WAL had a torn tail (unacknowledged writes); truncated",
                           metadata: ["file": "\(repair.file)", "offset": "\(repair.offset)", "reason": "\(repair.reason)"])
        }
        guard identity.replay.snapshot != nil else {
            throw StartupError("the WAL in \(layout.walDir) has no snapshot mark: it was written by a Keel without "
                + "replication; start this member from an empty data dir")
        }
        let recovered = try RaftPersistence.recover(replay: identity.replay, snapDir: layout.backendDir)
        logger.info("opened WAL", metadata: ["dir": "\(layout.walDir)", "entries": "\(identity.replay.entries.count)",
                                             "snapshot-index": "\(recovered.snapshot.index)"])
        let snapIndex = recovered.snapshot.index
        if store.consistentIndex < snapIndex {
            // A crash fell between accepting a snapshot and installing its image: install it now.
            let image = RaftPersistence.imagePath(snapDir: layout.backendDir, index: snapIndex)
            guard FileManager.default.fileExists(atPath: image) else {
                throw StartupError("backend (consistent index \(store.consistentIndex)) is behind the snapshot at index "
                    + "\(snapIndex) and its image \(image) is missing — refusing to serve")
            }
            try store.restore(fromImage: image)
            try backend.sync()
            try? FileManager.default.removeItem(atPath: image)
            logger.info("installed the snapshot image left by a crash", metadata: ["index": "\(snapIndex)"])
        }
        let lastIndex = try recovered.storage.lastIndex()
        if store.consistentIndex > lastIndex {
            throw StartupError("backend is ahead of the WAL (consistent index \(store.consistentIndex) > last WAL index "
                + "\(lastIndex)); the WAL in \(layout.walDir) is missing data — refusing to serve")
        }
        // Entries the backend applied were committed, even if the hard state recording that was not synced.
        var hs = recovered.storage.hardState
        if hs.commit < store.consistentIndex {
            hs.commit = store.consistentIndex
            recovered.storage.setHardState(hs)
        }
        try members.load(from: backend)
        if config.forceNewCluster && !fresh {
            try forceNewCluster(memberID: identity.memberID, storage: recovered.storage, wal: wal, members: members, logger: logger)
        }

        var raftConfig = Raft.Config(id: identity.memberID, randomSeed: UInt64.random(in: 1...UInt64.max))
        raftConfig.electionTick = config.electionTicks
        raftConfig.heartbeatTick = 1
        raftConfig.applied = store.consistentIndex
        raftConfig.preVote = config.preVote
        raftConfig.checkQuorum = true
        let node = try RawNode(config: raftConfig, storage: recovered.storage)

        let published = RaftPublished(memberID: identity.memberID)
        published.setApplied(store.consistentIndex)
        published.setLearner(members.member(identity.memberID)?.isLearner ?? false)
        let waiters = Waiters<ProposalOutcome>()
        let reads = ReadIndexBatcher()
        let link = PeerLink(store: store, members: members, localID: identity.memberID, clusterID: identity.clusterID,
                            snapDir: layout.backendDir, logger: logger)
        var peerConfig = PeerTransportConfig(localID: identity.memberID, clusterID: identity.clusterID,
                                             snapshotDirectory: layout.backendDir)
        peerConfig.serverTLS = tls.peerListener
        peerConfig.clientTLS = tls.peerDialer
        let peers = PeerTransport(config: peerConfig, group: group, handler: link, logger: logger)
        let publisher = AttributePublisher(memberID: identity.memberID, logger: logger)
        let localID = identity.memberID
        let watches = WatchHub()
        let electionMs = Int64(config.electionTimeoutMs)
        let leaseSchedule = LeaseSchedule(settings: .init(promotionGrace: .milliseconds(electionMs)))
        leaseSchedule.restore(from: store)
        let tokens = try await AuthTokenConfig.provider(config.authToken, ttlSeconds: config.authTokenTTLSeconds)
        let authGate = AuthGate(store: store, tokens: tokens, published: published, clientCertAuth: config.clientTLS.clientCertAuth)
        try SimpleTokenReplay.restore(from: recovered.storage, upTo: store.consistentIndex, store: store, tokens: tokens)
        let applier = ApplyStage(store: store, members: members, waiters: waiters, reads: reads, published: published,
                                 watches: watches, leases: leaseSchedule, tokens: tokens, logger: logger) { change in
            switch change {
            case .added(let m), .updated(let m):
                if m.id != localID { peers.addPeer(id: m.id, urls: m.peerURLs) }
                if m.id == localID { published.setLearner(m.isLearner) }
                if m.id == localID && !m.name.isEmpty { publisher.applied() }
            case .removed(let id) where id == localID:
                stopRemovedMember(logger)
            case .removed(let id):
                peers.removePeer(id: id)
            case .restored:
                for m in members.all where m.id != localID { peers.addPeer(id: m.id, urls: m.peerURLs) }
                published.setLearner(members.member(localID)?.isLearner ?? false)
            }
        }
        let settings = RaftLoop.Settings(
            tickInterval: .milliseconds(Int64(config.heartbeatIntervalMs)), electionTicks: config.electionTicks,
            snapshotCount: config.snapshotCount, catchUpEntries: min(5000, max(config.snapshotCount, 1)),
            maxSnapshots: Int(config.maxSnapshots), maxWALs: Int(config.maxWALs),
            requestTimeout: .milliseconds(5000 + 2 * electionMs))
        let loop = RaftLoop(node: node, storage: recovered.storage, wal: wal, snapDir: layout.backendDir, store: store,
                            settings: settings, published: published, waiters: waiters, reads: reads, applier: applier,
                            members: members, snapshotIndex: snapIndex, applied: store.consistentIndex, logger: logger)
        link.loop = loop
        link.onRemoved = { stopRemovedMember(logger) }
        loop.send = { messages in peers.send(messages) }
        // After a failed write or fsync the page cache no longer says what the disk holds (fsyncgate):
        // stop the member outright, as etcd's fatal log does, and let a restart replay what is on disk.
        loop.onWALFailure = {
            logger.critical("stopping the member: its WAL can no longer be trusted; restart it to recover from disk")
            exit(1)
        }

        let context = ServerContext(
            store: store, raft: loop, published: published, members: members, clusterID: identity.clusterID,
            memberID: identity.memberID,
            limits: .init(maxRequestBytes: Int(config.maxRequestBytes), maxTxnOps: Int(config.maxTxnOps)),
            dataDir: config.dataDir, name: config.name, strictReconfigCheck: config.strictReconfigCheck, watches: watches,
            watchProgressInterval: .nanoseconds(max(Int64(config.watchProgressNotifyInterval.components.seconds) * 1_000_000_000
                + config.watchProgressNotifyInterval.components.attoseconds / 1_000_000_000, 1_000_000)),
            auth: authGate, clientDialer: tls.clientDialer)
        publisher.context = context

        var peerPorts: [Int] = []
        for m in members.all where m.id != identity.memberID { peers.addPeer(id: m.id, urls: m.peerURLs) }
        do {
            for url in config.listenPeerURLs {
                let port = try await peers.listen(url: url.canonical)
                peerPorts.append(port)
            }
        } catch {
            await peers.shutdown()
            throw StartupError("cannot listen on peer URL: \(error)")
        }
        let metrics = ServerMetrics(extensive: config.metrics == .extensive)
        wal.onSyncDuration = { nanos in metrics.walFsync.record(.nanoseconds(Int64(nanos))) }
        applier.start()
        loop.start()
        // A member alone in its cluster need not wait out an election timeout; others start their
        // election clocks almost elapsed (etcd's --initial-election-tick-advance).
        if node.status.confState.voters == [identity.memberID] {
            _ = loop.inbox.tryPush(.campaign)
        } else if config.initialElectionTickAdvance {
            advanceTicksOncePeersConnect(peers: peers, loop: loop, ticks: config.electionTicks - 2, eventLoop: group.next(),
                                         logger: logger)
        }

        var grpc = GRPCServer(limits: GRPCServerLimits(maxReceiveMessageBytes: Int(config.maxRequestBytes) + 512 * 1024))
        KVService(context: context).register(into: &grpc)
        ClusterServices(context: context).register(into: &grpc)
        AlarmService(context: context).register(into: &grpc)
        HashService(context: context).register(into: &grpc)
        AuthService(context: context, bcryptCost: Int(config.bcryptCost)).register(into: &grpc)
        // etcd's minimum lease TTL: (3 × election ticks / 2) heartbeats, in whole seconds, rounded up.
        let minTTLms = Int64(3 * config.electionTicks / 2) * Int64(config.heartbeatIntervalMs)
        LeaseService(context: context, schedule: leaseSchedule, minTTL: (minTTLms + 999) / 1000).register(into: &grpc)
        LockService(kv: LocalKV(context: context)).register(into: &grpc)
        ElectionService(kv: LocalKV(context: context)).register(into: &grpc)
        grpc.register("/etcdserverpb.Watch/Watch", .streaming { call in WatchStream.start(call, context: context, hub: context.watches) })
        grpc.instrument { path, handler in metrics.method(path: path, handler: handler) }
        let gateway = config.enableGRPCGateway
            ? GatewayResponder(grpc: grpc, maxBodyBytes: TransportConfiguration.defaultMaxHTTPBodyBytes) : nil
        var transportConfig = TransportConfiguration(
            grpc: grpc, http: HTTPEndpoints(context: context, metrics: metrics, gateway: gateway))
        transportConfig.http2.maxConcurrentStreams = config.maxConcurrentStreams
        let transport = TransportServer(group: group, configuration: transportConfig)
        var ports: [Int] = []
        do {
            for url in config.listenClientURLs {
                let host = url.host == "localhost" ? "127.0.0.1" : url.host
                let secure = url.scheme == .https
                let port = try await transport.bind(host: host, port: Int(url.port ?? 2379), tls: secure ? tls.clientListener : nil)
                ports.append(port)
                if secure {
                    logger.info("serving client requests on \(host):\(port) over TLS")
                } else {
                    logger.info("serving insecure client requests on \(host):\(port), this is strongly discouraged!")
                }
            }
        } catch {
            await transport.shutdownGracefully(gracePeriod: .seconds(0))
            loop.stop()
            await peers.shutdown()
            throw StartupError("cannot listen on client URL: \(error)")
        }
        // --listen-metrics-urls: /metrics and /health (and /version) only, as etcd's metrics listener.
        let metricsListener = TransportServer(group: group, configuration: TransportConfiguration(
            grpc: GRPCServer(), http: HTTPEndpoints(context: context, metrics: metrics)))
        do {
            for url in config.listenMetricsURLs {
                let host = url.host == "localhost" ? "127.0.0.1" : url.host
                let port = try await metricsListener.bind(host: host, port: Int(url.port ?? 0),
                                                          tls: url.scheme == .https ? tls.clientListener : nil)
                logger.info("serving /metrics and /health on \(host):\(port)")
            }
        } catch {
            await transport.shutdownGracefully(gracePeriod: .seconds(0))
            loop.stop()
            await peers.shutdown()
            throw StartupError("cannot listen on metrics URL: \(error)")
        }
        let leaseExpiry = LeaseExpiry(schedule: leaseSchedule, context: context, interval: settings.tickInterval,
                                      eventLoop: group.next(), logger: logger)
        let autoCompaction = AutoCompaction(mode: config.autoCompaction, context: context, eventLoop: group.next(), logger: logger)
        publisher.start(name: config.name, clientURLs: config.advertiseClientURLs.map(\.canonical), eventLoop: group.next())
        return KeelServer(clientPorts: ports, peerPorts: peerPorts, transport: transport, metrics: metricsListener, peers: peers, group: group,
                          context: context, logger: logger, autoCompaction: autoCompaction, publisher: publisher,
                          leaseExpiry: leaseExpiry)
    }

    /// GOAWAY to every client, let in-flight calls finish, then stop Raft (draining the applier) and close.
    public func shutdown() async {
        logger.info("received terminate signal, shutting down")
        autoCompaction?.cancel()
        publisher.cancel()
        await transferLeadershipIfLeading()
        await transport.shutdownGracefully(gracePeriod: .seconds(5))
        // Lease checkpoints go on while clients drain: a leader that renews must still report it.
        leaseExpiry.cancel()
        await metrics.shutdownGracefully(gracePeriod: .seconds(0))
        context.raft.stop()
        await peers.shutdown()
        context.store.backend.close()
        try? await group.shutdownGracefully()
        logger.info("stopped serving")
    }

    /// A stopping leader hands leadership to the most up-to-date voter first (etcd does, unless alone), so
    /// the cluster does not wait out an election timeout and leases renewed here are renewed there.
    private func transferLeadershipIfLeading() async {
        let raft = context.raft
        guard context.published.isLeader, let target = raft.bestTransferee else { return }
        logger.info("leadership transfer on shutdown", metadata: ["to": "\(hex(target))"])
        _ = raft.inbox.tryPush(.transferLeader(target))
        let deadline = NIODeadline.now() + raft.settings.tickInterval * Int64(2 * raft.settings.electionTicks)
        while context.published.isLeader && NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if context.published.isLeader { logger.warning("leadership transfer on shutdown timed out") }
    }

    // MARK: Start-up steps

    /// etcd's --initial-election-tick-advance: once connections to more than one peer are up (within 5 s),
    /// let electionTicks-2 ticks elapse at once, so a fresh or restarted member does not wait a whole
    /// election timeout for a leader that is not there, but still hears from one that is.
    private static func advanceTicksOncePeersConnect(peers: PeerTransport, loop: RaftLoop, ticks: Int, eventLoop: EventLoop,
                                                     logger: Logger) {
        guard ticks > 0 else { return }
        let deadline = NIODeadline.now() + .seconds(5)
        @Sendable func check() {
            let active = loop.peerIDs.filter { peers.isConnected($0) }.count
            if active > 1 {
                logger.info("fast-forwarding \(ticks) ticks (election ticks \(ticks + 2)) with \(active) active peer(s)")
                _ = loop.inbox.tryPush(.advanceTicks(ticks))
            } else if NIODeadline.now() < deadline {
                eventLoop.scheduleTask(in: .milliseconds(50)) { check() }
            }
        }
        eventLoop.execute { check() }
    }

    /// --force-new-cluster (etcd's disaster recovery): keep everything committed, drop the uncommitted
    /// tail, and commit conf changes that remove every other member, so this member restarts as a
    /// one-member cluster of the same data (etcd's "forcing restart of member"). Written to the WAL and
    /// synced before Raft starts, so a crash right after does not undo it.
    private static func forceNewCluster(memberID: UInt64, storage: MemoryStorage, wal: WAL, members: MemberRegistry,
                                        logger: Logger) throws {
        var hs = storage.hardState
        let last = try storage.lastIndex()
        // What the log says, committed or not, and what the applied membership says: remove them all.
        let inLog = try RawNode(config: Raft.Config(id: memberID), storage: storage).status.confState
        var others = Set(inLog.members).union(members.all.map(\.id))
        others.remove(memberID)
        guard inLog.isVoter(memberID) || members.member(memberID)?.isLearner == false else {
            throw StartupError("--force-new-cluster: this member is not a voting member of its cluster")
        }
        let term = max(hs.term, try storage.term(min(hs.commit, last)))
        let dropped = last > hs.commit ? last - hs.commit : 0
        var index = hs.commit
        var entries: [Entry] = []
        for id in others.sorted() {
            index += 1
            let member = members.member(id) ?? MemberInfo(id: id, name: "", peerURLs: [], clientURLs: [], isLearner: false)
            let cc = ConfChange(type: .removeNode, nodeID: id, context: ConfChangeContext(requestID: 0, member: member).encoded())
            entries.append(Entry(term: term, index: index, type: .confChange, data: cc.encoded()))
        }
        hs = HardState(term: term, vote: hs.vote, commit: index)
        try wal.save(entries: entries.map(RaftPersistence.walEntry), hardState: RaftPersistence.walHardState(hs), sync: true)
        if !entries.isEmpty { try storage.append(entries) }  // replaces any uncommitted tail
        storage.setHardState(hs)
        logger.warning("forcing restart of member \(hex(memberID)) at commit index \(index)", metadata: [
            "dropped-uncommitted-entries": "\(dropped)",
            "removed-members": "\(others.sorted().map(hex))"])
    }

    /// etcd: a member removed from the cluster stops serving (it learns it by applying its removal or
    /// from a peer refusing it). A clean shutdown, as on SIGTERM; once is enough.
    private static let removalNoticed = ManagedAtomic(false)
    private static func stopRemovedMember(_ logger: Logger) {
        guard !removalNoticed.exchange(true, ordering: .relaxed) else { return }
        logger.warning("the member has been permanently removed from the cluster")
        kill(getpid(), SIGTERM)
    }

    struct Identity {
        var wal: WAL
        var replay: WALReplay
        let memberID: UInt64
        let clusterID: UInt64
    }

    /// An existing data dir keeps the identity it was created with (flags only matter at bootstrap, as in etcd).
    private static func openWAL(layout: DataLayout) throws -> Identity {
        let (wal, replay) = try WAL.open(directory: layout.walDir)
        guard let ids = WALMetadata.decode(replay.metadata) else {
            throw StartupError("WAL metadata in \(layout.walDir) is unreadable")
        }
        return Identity(wal: wal, replay: replay, memberID: ids.memberID, clusterID: ids.clusterID)
    }

    /// A founding member of a new cluster: every founder writes the same starting point — the members
    /// of --initial-cluster in the backend (consistent index 1), then a Raft snapshot at index 1, term 1
    /// whose membership is all of them as voters. The backend goes first: the WAL's existence is what
    /// marks the data dir as initialized, so a crash in between just bootstraps again.
    private static func bootstrapNewCluster(config: ServerConfig, layout: DataLayout, store: MVCCStore,
                                            members: MemberRegistry, logger: Logger) throws -> Identity {
        guard let memberID = config.localMemberID else {
            throw StartupError("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
        }
        let clusterID = config.initialCluster.clusterID
        for m in config.initialCluster.members {
            try members.upsert(MemberInfo(id: m.id, name: m.name, peerURLs: m.peerURLs.map(\.canonical), clientURLs: [],
                                          isLearner: false), backend: store.backend)
        }
        _ = store.applyBatch([(1, .noop)])
        try store.backend.sync()
        let conf = ConfState(voters: config.initialCluster.members.map(\.id))
        try RaftPersistence.saveConfState(snapDir: layout.backendDir, index: 1, term: 1, conf: conf)
        let created = try WAL.create(directory: layout.walDir,
                                     metadata: WALMetadata.encode(memberID: memberID, clusterID: clusterID))
        try created.saveSnapshotMark(WALSnapshotMark(index: 1, term: 1))
        try created.save(entries: [], hardState: WALHardState(term: 1, vote: 0, commit: 1))
        try created.close()
        let (wal, replay) = try WAL.open(directory: layout.walDir)
        logger.info("bootstrapped new member", metadata: [
            "member-id": "\(hex(memberID))", "cluster-id": "\(hex(clusterID))",
            "initial-cluster": "\(config.initialCluster.text)"])
        return Identity(wal: wal, replay: replay, memberID: memberID, clusterID: clusterID)
    }

    /// etcd's GetClusterFromRemotePeers + ValidateClusterAndAssignIDs: ask the other members of
    /// --initial-cluster for the cluster, then find ourselves in it by our advertised peer URLs (the entry
    /// `member add` created, with the id it chose).
    private static func fetchJoinIdentity(config: ServerConfig, group: EventLoopGroup, tls: TLSClientSecurity?,
                                          logger: Logger) async throws -> (memberID: UInt64, cluster: ClusterDescription) {
        let ours = config.initialAdvertisePeerURLs.map(\.canonical).sorted()
        let others = config.initialCluster.members.filter { $0.name != config.name }.flatMap { $0.peerURLs.map(\.canonical) }
        guard !others.isEmpty else {
            throw StartupError("--initial-cluster-state existing, but --initial-cluster names no other member to join")
        }
        // etcd takes the first peer's answer. A peer that has not applied `member add` yet answers without us
        // (the add returns once the leader applied it; the others follow a moment later): ask the next one,
        // and again after a second, before giving up with etcd's words.
        var lastError: Error?
        for attempt in 0..<5 {
            if attempt > 0 { try await Task.sleep(for: .seconds(1)) }
            for url in others {
                do {
                    let bytes = try await PeerTransport.fetchClusterMembers(from: url, group: group, tls: tls)
                    let cluster = try ClusterDescription.decode(bytes)
                    guard cluster.members.count == config.initialCluster.members.count else {
                        throw StaleMemberList("error validating peerURLs \(config.initialCluster.text): member count is unequal")
                    }
                    guard let me = cluster.members.first(where: { $0.peerURLs.sorted() == ours }) else {
                        throw StaleMemberList("error validating peerURLs \(config.initialCluster.text): unmatched member while checking PeerURLs")
                    }
                    guard me.name.isEmpty else {
                        throw StartupError("member \(hex(me.id)) has already been bootstrapped")
                    }
                    logger.info("joining existing cluster", metadata: ["cluster-id": "\(hex(cluster.clusterID))", "member-id": "\(hex(me.id))"])
                    return (me.id, cluster)
                } catch let e as StartupError {
                    throw e
                } catch {
                    lastError = error
                }
            }
        }
        if let stale = lastError as? StaleMemberList { throw StartupError(stale.text) }
        throw StartupError("cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs (\(lastError.map { "\($0)" } ?? "no answer"))")
    }

    /// A member list that does not (yet) hold the joining member as --initial-cluster describes it.
    private struct StaleMemberList: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// A joining member starts empty: the cluster's members in the backend (so it knows its peers) and an
    /// index-0 mark in a new WAL; the leader sends it a snapshot, which brings the state and the membership.
    private static func bootstrapJoiningMember(memberID: UInt64, cluster: ClusterDescription, layout: DataLayout,
                                               store: MVCCStore, members: MemberRegistry, logger: Logger) throws -> Identity {
        for m in cluster.members { try members.upsert(m, backend: store.backend) }
        try store.backend.sync()
        try RaftPersistence.saveConfState(snapDir: layout.backendDir, index: 0, term: 0, conf: ConfState())
        let created = try WAL.create(directory: layout.walDir,
                                     metadata: WALMetadata.encode(memberID: memberID, clusterID: cluster.clusterID))
        try created.saveSnapshotMark(RaftPersistence.joinMark)
        try created.close()
        let (wal, replay) = try WAL.open(directory: layout.walDir)
        return Identity(wal: wal, replay: replay, memberID: memberID, clusterID: cluster.clusterID)
    }
}

/// A negative --quota-backend-bytes disables etcd's quota. LMDB still needs a map size (reserved address
/// space, twice the quota), so "unlimited" is a large explicit bound rather than Int64.max.
let unlimitedQuotaBytes: Int64 = 1 << 40

/// Where things live under --data-dir, etcd's layout: member/wal and member/snap.
struct DataLayout {
    let dataDir: String
    let walDir: String
    let backendDir: String

    init(dataDir: String, walDir: String?) {
        self.dataDir = dataDir
        self.walDir = walDir ?? dataDir + "/member/wal"
        self.backendDir = dataDir + "/member/snap"
    }

    func create() throws {
        for dir in [dataDir, walDir, backendDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
    }
}

/// The WAL's metadata record: which member and cluster this log belongs to.
enum WALMetadata {
    static func encode(memberID: UInt64, clusterID: UInt64) -> [UInt8] {
        var out: [UInt8] = Array("keel1".utf8)
        for v in [memberID, clusterID] { withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) } }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> (memberID: UInt64, clusterID: UInt64)? {
        guard bytes.count == 21, Array(bytes.prefix(5)) == Array("keel1".utf8) else { return nil }
        func read(_ at: Int) -> UInt64 { bytes[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        return (read(5), read(13))
    }
}
