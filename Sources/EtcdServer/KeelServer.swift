import Backend
import Foundation
import KeelConfig
import Logging
import MVCC
import NIOCore
import NIOPosix
import RPC
import Transport
import WAL

/// A running Keel member: data dir, write path, services and client listeners.
public final class KeelServer: Sendable {
    public let clientPorts: [Int]
    private let transport: TransportServer
    private let group: MultiThreadedEventLoopGroup
    private let context: ServerContext
    private let logger: Logger
    private let autoCompaction: AutoCompaction?

    private init(clientPorts: [Int], transport: TransportServer, group: MultiThreadedEventLoopGroup,
                 context: ServerContext, logger: Logger, autoCompaction: AutoCompaction?) {
        self.clientPorts = clientPorts
        self.transport = transport
        self.group = group
        self.context = context
        self.logger = logger
        self.autoCompaction = autoCompaction
    }

    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Opens (or bootstraps) the data dir, replays the WAL, and starts serving.
    public static func start(config: ServerConfig, logger: Logger) async throws -> KeelServer {
        guard config.initialCluster.members.count == 1 else {
            throw StartupError("multi-member clusters need Raft replication, which this build of Keel does not have yet; "
                + "--initial-cluster names \(config.initialCluster.members.count) members")
        }
        let layout = DataLayout(dataDir: config.dataDir, walDir: config.walDir)
        if !WAL.exists(directory: layout.walDir) {
            // Bootstrap checks (our name in --initial-cluster, advertised peer URLs match) run only for a new
            // member, as in etcd, and before anything is created on disk.
            if case .failure(let error) = config.verifyBootstrap() { throw StartupError(error.message) }
        }
        try layout.create()
        let identity = try openWAL(layout: layout, config: config, logger: logger)
        let wal = identity.wal
        var replay = identity.replay
        logger.info("opened WAL", metadata: ["dir": "\(layout.walDir)", "entries": "\(replay.entries.count)"])
        if let repair = replay.repair {
            logger.warning("WAL had a torn tail (unacknowledged writes); truncated",
                           metadata: ["file": "\(repair.file)", "offset": "\(repair.offset)", "reason": "\(repair.reason)"])
        }

        let backend = try Backend(config: BackendConfig(directory: layout.backendDir,
                                                        quotaBytes: config.effectiveQuotaBackendBytes ?? unlimitedQuotaBytes))
        let store = try MVCCStore(backend: backend)
        let lastIndex = replay.entries.last?.index ?? replay.snapshot?.index ?? 0
        if store.consistentIndex > lastIndex {
            throw StartupError("backend is ahead of the WAL (consistent index \(store.consistentIndex) > last WAL index "
                + "\(lastIndex)); the WAL in \(layout.walDir) is missing data — refusing to serve")
        }
        try replayEntries(replay.entries, into: store, logger: logger)
        replay.entries = []  // replayed: free them before serving

        // Each start is a new term, as a single member's election makes it in etcd.
        let term = (replay.hardState?.term ?? 1) + 1
        try wal.save(entries: [], hardState: WALHardState(term: term, vote: identity.memberID, commit: lastIndex))
        let pipeline = WritePipeline(wal: wal, store: store, term: term, memberID: identity.memberID,
                                     lastIndex: lastIndex, logger: logger)
        pipeline.start()

        let members = [ServerContext.Member(
            id: identity.memberID, name: config.name,
            peerURLs: config.initialAdvertisePeerURLs.map(\.canonical),
            clientURLs: config.advertiseClientURLs.map(\.canonical))]
        let context = ServerContext(
            store: store, pipeline: pipeline, clusterID: identity.clusterID, memberID: identity.memberID,
            members: members,
            limits: .init(maxRequestBytes: Int(config.maxRequestBytes), maxTxnOps: Int(config.maxTxnOps)),
            dataDir: config.dataDir)

        var grpc = GRPCServer(limits: GRPCServerLimits(maxReceiveMessageBytes: Int(config.maxRequestBytes) + 512 * 1024))
        KVService(context: context).register(into: &grpc)
        ClusterServices(context: context).register(into: &grpc)
        AlarmService(context: context).register(into: &grpc)
        var transportConfig = TransportConfiguration(grpc: grpc, http: HTTPEndpoints(context: context))
        transportConfig.http2.maxConcurrentStreams = config.maxConcurrentStreams
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let transport = TransportServer(group: group, configuration: transportConfig)
        var ports: [Int] = []
        do {
            for url in config.listenClientURLs {
                let host = url.host == "localhost" ? "127.0.0.1" : url.host
                let port = try await transport.bind(host: host, port: Int(url.port ?? 2379))
                ports.append(port)
                logger.info("serving insecure client requests on \(host):\(port), this is strongly discouraged!")
            }
        } catch {
            await transport.shutdownGracefully(gracePeriod: .seconds(0))
            pipeline.stop()
            try? await group.shutdownGracefully()
            throw StartupError("cannot listen on client URL: \(error)")
        }
        logger.info("published local member to cluster", metadata: [
            "local-member-id": "\(String(identity.memberID, radix: 16))",
            "cluster-id": "\(String(identity.clusterID, radix: 16))"])
        logger.info("enabled capabilities for version", metadata: ["cluster-version": "3.4"])
        let autoCompaction = AutoCompaction(mode: config.autoCompaction, context: context, eventLoop: group.next(), logger: logger)
        logger.info("ready to serve client requests")
        return KeelServer(clientPorts: ports, transport: transport, group: group, context: context, logger: logger,
                          autoCompaction: autoCompaction)
    }

    /// GOAWAY to every client, let in-flight calls finish, then flush the write path and close the data dir.
    public func shutdown() async {
        logger.info("received terminate signal, shutting down")
        autoCompaction?.cancel()
        await transport.shutdownGracefully(gracePeriod: .seconds(5))
        context.pipeline.stop()
        context.store.backend.close()
        try? await group.shutdownGracefully()
        logger.info("stopped serving")
    }

    // MARK: Start-up steps

    struct Identity {
        var wal: WAL
        var replay: WALReplay
        let memberID: UInt64
        let clusterID: UInt64
    }

    /// An existing data dir keeps the identity it was created with (flags only matter at bootstrap, as in etcd).
    private static func openWAL(layout: DataLayout, config: ServerConfig, logger: Logger) throws -> Identity {
        if WAL.exists(directory: layout.walDir) {
            let (wal, replay) = try WAL.open(directory: layout.walDir)
            guard let ids = WALMetadata.decode(replay.metadata) else {
                throw StartupError("WAL metadata in \(layout.walDir) is unreadable")
            }
            return Identity(wal: wal, replay: replay, memberID: ids.memberID, clusterID: ids.clusterID)
        }
        guard let memberID = config.localMemberID else {
            throw StartupError("couldn't find local name \"\(config.name)\" in the initial cluster configuration")
        }
        let clusterID = config.initialCluster.clusterID
        let wal = try WAL.create(directory: layout.walDir, metadata: WALMetadata.encode(memberID: memberID, clusterID: clusterID))
        let (opened, replay) = try { try wal.close(); return try WAL.open(directory: layout.walDir) }()
        logger.info("bootstrapped new member", metadata: ["member-id": "\(String(memberID, radix: 16))"])
        return Identity(wal: opened, replay: replay, memberID: memberID, clusterID: clusterID)
    }

    /// Re-applies logged entries the backend has not seen (its consistent index makes this idempotent).
    private static func replayEntries(_ entries: [WALEntry], into store: MVCCStore, logger: Logger) throws {
        let start = store.consistentIndex
        var batch: [(index: UInt64, op: WriteOp)] = []
        var replayed = 0
        for entry in entries where entry.index > start {
            let op: WriteOp
            do { op = try InternalRequestCodec.decode(entry.data) } catch {
                throw StartupError("WAL entry \(entry.index) does not decode: \(error.status.message)")
            }
            batch.append((entry.index, op))
            if batch.count == 1024 {
                _ = store.applyBatch(batch)
                replayed += batch.count
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty {
            _ = store.applyBatch(batch)
            replayed += batch.count
        }
        if replayed > 0 { logger.info("replayed WAL entries into the backend", metadata: ["count": "\(replayed)"]) }
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
