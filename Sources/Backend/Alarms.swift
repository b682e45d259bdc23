/// etcdserverpb.AlarmType. A struct rather than an enum so a type written by a newer version
/// survives a read and a rewrite.
public struct AlarmType: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let none = AlarmType(rawValue: 0)
    public static let noSpace = AlarmType(rawValue: 1)
    public static let corrupt = AlarmType(rawValue: 2)

    public static func < (a: AlarmType, b: AlarmType) -> Bool { a.rawValue < b.rawValue }
}

/// etcdserverpb.AlarmMember: one alarm raised for one member.
public struct AlarmMember: Hashable, Comparable, Sendable {
    public var memberID: UInt64
    public var alarm: AlarmType

    public init(memberID: UInt64, alarm: AlarmType) {
        self.memberID = memberID
        self.alarm = alarm
    }

    public static func < (a: AlarmMember, b: AlarmMember) -> Bool {
        a.memberID != b.memberID ? a.memberID < b.memberID : a.alarm < b.alarm
    }

    /// The `alarm` bucket key, as etcd's alarm store writes it: the AlarmMember protobuf
    /// (field 1 member id, field 2 type, zero fields omitted); the value is empty.
    var storageKey: [UInt8] {
        var out: [UInt8] = []
        if memberID != 0 { out.append(0x08); out.appendProtobufVarint(memberID) }
        // Negative enum values are sign-extended to 64 bits, as protobuf does.
        if alarm.rawValue != 0 { out.append(0x10); out.appendProtobufVarint(UInt64(bitPattern: Int64(alarm.rawValue))) }
        return out
    }

    /// Parses a stored key; unknown fields are skipped, nil on malformed bytes.
    init?(storageKey bytes: UnsafeRawBufferPointer) {
        var member: UInt64 = 0
        var type: Int32 = 0
        var p = 0
        func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while p < bytes.count && shift < 64 {
                let byte = bytes[p]
                p += 1
                v |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }
        while p < bytes.count {
            guard let tag = varint() else { return nil }
            switch (tag >> 3, tag & 7) {
            case (1, 0): guard let v = varint() else { return nil }; member = v
            case (2, 0): guard let v = varint() else { return nil }; type = Int32(truncatingIfNeeded: v)
            case (_, 0): guard varint() != nil else { return nil }
            case (_, 1): p += 8
            case (_, 2): guard let n = varint(), n <= UInt64(bytes.count - p) else { return nil }; p += Int(n)
            case (_, 5): p += 4
            default: return nil
            }
        }
        guard p == bytes.count else { return nil }
        self.init(memberID: member, alarm: AlarmType(rawValue: type))
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` as a protobuf base-128 varint (alarm keys here, KeyValues for HashKV).
    public mutating func appendProtobufVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }
}

/// Alarms live in the `alarm` bucket and in memory (`alarmSet`). Every change goes through a
/// write transaction and reaches memory when it commits, so an alarm survives a restart and an
/// image install brings the image's alarms, as etcd restores its alarm store from the backend.
extension Backend {
    /// Every active alarm, ordered by member id then type.
    public var alarms: [AlarmMember] { alarmSet.withLock { $0.sorted() } }

    /// The active alarms of one type (`.none`: all of them).
    public func alarms(of type: AlarmType) -> [AlarmMember] {
        alarms.filter { type == .none || $0.alarm == type }
    }

    /// Records an alarm (etcd's alarm store Activate); false if it was already active. `.none`
    /// is not an alarm and is ignored.
    @discardableResult
    public func activateAlarm(_ member: AlarmMember) throws -> Bool {
        try write { tx in try tx.activateAlarm(member) }
    }

    /// Removes an alarm (etcd's Deactivate); false if it was not active.
    @discardableResult
    public func deactivateAlarm(_ member: AlarmMember) throws -> Bool {
        try write { tx in try tx.deactivateAlarm(member) }
    }

    /// The NOSPACE alarm blocks writes that grow the database. It is raised when a write hits
    /// the quota or MAP_FULL and cleared when the operator disarms it (after compaction).
    /// As in etcd, any member's NOSPACE alarm counts.
    public var isNoSpaceAlarmRaised: Bool { noSpaceAlarm.load(ordering: .acquiring) }

    /// Raises NOSPACE for `config.memberID` and persists it. Never fails: writes stop at once
    /// even if the record cannot be written (the disk may be what is full).
    public func raiseNoSpaceAlarm() {
        let member = AlarmMember(memberID: config.memberID, alarm: .noSpace)
        let isNew = alarmSet.withLock { set in
            let inserted = set.insert(member).inserted
            noSpaceAlarm.store(true, ordering: .releasing)
            return inserted
        }
        // Already in memory: nothing to do, and no recursion when this very write hits MAP_FULL.
        guard isNew else { return }
        _ = try? activateAlarm(member)
    }

    /// Clears every NOSPACE alarm. Returns false if the change could not be committed: the
    /// alarm then stays raised (the safe side).
    @discardableResult
    public func clearNoSpaceAlarm() -> Bool {
        do {
            try write { tx in
                let stored = try tx.storedAlarms()
                for member in stored where member.alarm == .noSpace {
                    try tx.deactivateAlarm(member)
                }
                // Memory takes the committed set even when nothing was stored: a raise whose
                // record could not be written lives only in memory and is cleared this way.
                if tx.pendingAlarms == nil { tx.pendingAlarms = stored }
            }
            return true
        } catch {
            return false
        }
    }

    /// Reads the alarm bucket into memory (at open).
    func loadAlarms() throws {
        let stored = try read { tx in try tx.storedAlarms() }
        alarmSet.withLock { set in
            set = stored
            noSpaceAlarm.store(stored.contains { $0.alarm == .noSpace }, ordering: .releasing)
        }
    }
}

extension BackendReading {
    /// The alarms recorded in the `alarm` bucket as this transaction sees it.
    public func storedAlarms() throws -> Set<AlarmMember> {
        var out = Set<AlarmMember>()
        try scan(.alarm, from: []) { k, _ in
            guard let member = AlarmMember(storageKey: k) else {
                throw BackendError.lmdb(code: -1, message: "malformed key in the alarm bucket")
            }
            out.insert(member)
            return true
        }
        return out
    }
}

extension WriteTx {
    /// Activates an alarm inside this transaction; memory follows when it commits.
    @discardableResult
    public mutating func activateAlarm(_ member: AlarmMember) throws -> Bool {
        guard member.alarm != .none else { return false }
        var set = try pendingAlarms ?? storedAlarms()
        guard set.insert(member).inserted else { return false }
        try put(.alarm, member.storageKey, [])
        pendingAlarms = set
        return true
    }

    /// Deactivates an alarm inside this transaction; memory follows when it commits.
    @discardableResult
    public mutating func deactivateAlarm(_ member: AlarmMember) throws -> Bool {
        var set = try pendingAlarms ?? storedAlarms()
        guard set.remove(member) != nil else { return false }
        try delete(.alarm, member.storageKey)
        pendingAlarms = set
        return true
    }

    /// NOSPACE as this transaction will leave it (its own raises count before the commit).
    public var isNoSpaceAlarmRaised: Bool {
        if let pendingAlarms { return pendingAlarms.contains { $0.alarm == .noSpace } }
        return backend.isNoSpaceAlarmRaised
    }

    /// Raises NOSPACE for `config.memberID` in this transaction (the quota check inside an apply).
    public mutating func raiseNoSpaceAlarm() throws {
        try activateAlarm(AlarmMember(memberID: backend.config.memberID, alarm: .noSpace))
    }
}
