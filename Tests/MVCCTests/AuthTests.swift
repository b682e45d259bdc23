import Testing
import Backend
import Foundation
@testable import MVCC

/// The applied side of auth: etcd's authStore rules (root, roles, permissions, revisions), the
/// permission intervals as etcd's interval tree decides them, apply-time checks of a caller's writes,
/// and the same state after a restart.
@Suite struct AuthTests {
    @discardableResult
    private func auth(_ h: Harness, _ op: AuthOp, as caller: AuthCaller? = nil) -> ApplyResult {
        defer { h.nextIndex += 1 }
        return h.store.applyBatch([(h.nextIndex, .auth(op))], callers: [caller], term: 1)[0]
    }

    private func write(_ h: Harness, _ op: WriteOp, as caller: AuthCaller) -> ApplyResult {
        defer { h.nextIndex += 1 }
        return h.store.applyBatch([(h.nextIndex, op)], callers: [caller], term: 1)[0]
    }

    private func caller(_ h: Harness, _ name: String) -> AuthCaller {
        AuthCaller(username: name, revision: h.store.authRevision)
    }

    /// root with the root role, alice with role "r" reading [a, c) and writing key "k".
    private func setUp(_ h: Harness) {
        for op: AuthOp in [.userAdd(name: "root", hashedPassword: Array("h".utf8), noPassword: false), .roleAdd(name: "root"),
                           .userGrantRole(user: "root", role: "root"),
                           .userAdd(name: "alice", hashedPassword: Array("h".utf8), noPassword: false), .roleAdd(name: "r"),
                           .roleGrantPermission(role: "r", permission: AuthPermission(kind: .read, key: b("a"), rangeEnd: b("c"))),
                           .roleGrantPermission(role: "r", permission: AuthPermission(kind: .readWrite, key: b("k"), rangeEnd: [])),
                           .userGrantRole(user: "alice", role: "r"), .enable] {
            #expect(auth(h, op).error == nil, "\(op)")
        }
    }

    @Test func enablingNeedsRootWithTheRootRole() throws {
        let h = try Harness()
        #expect(auth(h, .enable).error == .rootUserNotExist)
        auth(h, .userAdd(name: "root", hashedPassword: [1], noPassword: false))
        #expect(auth(h, .enable).error == .rootRoleNotExist)
        auth(h, .userGrantRole(user: "root", role: "root"))  // the root role need not exist as a role
        #expect(auth(h, .enable).error == nil && h.store.isAuthEnabled)
        // Now everything administrative needs root.
        #expect(auth(h, .roleAdd(name: "x")).error == .userEmpty)
        #expect(auth(h, .roleAdd(name: "x"), as: AuthCaller(username: "nobody", revision: 9)).error == .userNotFound)
        #expect(auth(h, .roleAdd(name: "x"), as: caller(h, "root")).error == nil)
        #expect(auth(h, .userDelete(name: "root"), as: caller(h, "root")).error == .invalidAuthMgmt)
        #expect(auth(h, .userRevokeRole(user: "root", role: "root"), as: caller(h, "root")).error == .invalidAuthMgmt)
        #expect(auth(h, .roleDelete(name: "root"), as: caller(h, "root")).error == .invalidAuthMgmt)
        #expect(auth(h, .disable, as: caller(h, "root")).error == nil && !h.store.isAuthEnabled)
    }

    @Test func etcdsErrorsForUsersAndRoles() throws {
        let h = try Harness()
        #expect(auth(h, .userAdd(name: "", hashedPassword: [], noPassword: false)).error == .userEmpty)
        #expect(auth(h, .roleAdd(name: "")).error == .roleEmpty)
        auth(h, .userAdd(name: "u", hashedPassword: [1], noPassword: false))
        #expect(auth(h, .userAdd(name: "u", hashedPassword: [1], noPassword: false)).error == .userAlreadyExist)
        auth(h, .roleAdd(name: "r"))
        #expect(auth(h, .roleAdd(name: "r")).error == .roleAlreadyExist)
        #expect(auth(h, .userGrantRole(user: "u", role: "nope")).error == .roleNotFound)
        #expect(auth(h, .userGrantRole(user: "nope", role: "r")).error == .userNotFound)
        #expect(auth(h, .userRevokeRole(user: "u", role: "r")).error == .roleNotGranted)
        #expect(auth(h, .roleRevokePermission(role: "r", key: b("k"), rangeEnd: [])).error == .permissionNotGranted)
        #expect(auth(h, .userGet(name: "nope")).error == .userNotFound)
        #expect(auth(h, .roleGet(name: "nope")).error == .roleNotFound)
        #expect(auth(h, .authenticate(name: "u", tokenPrefix: "p")).error == .authNotEnabled)
        // Granting twice changes nothing; deleting a role takes it from its users.
        auth(h, .userGrantRole(user: "u", role: "r"))
        let revision = h.store.authRevision
        #expect(auth(h, .userGrantRole(user: "u", role: "r")).error == nil && h.store.authRevision == revision)
        auth(h, .roleDelete(name: "r"))
        #expect(auth(h, .userGet(name: "u")).outcome == .applied(.auth(.user(roles: []))))
        #expect(auth(h, .userList).outcome == .applied(.auth(.names(["u"]))))
    }

    @Test func permissionsAreCheckedAtApplyForTheCaller() throws {
        let h = try Harness()
        setUp(h)
        let alice = caller(h, "alice")
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: alice).error == nil)
        #expect(write(h, .put(PutRequest(key: b("b"), value: b("v"))), as: alice).error == .permissionDenied)
        // prev_kv needs read too; "k" has both.
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"), prevKV: true)), as: alice).error == nil)
        #expect(write(h, .deleteRange(DeleteRangeRequest(key: b("a"), rangeEnd: b("c"))), as: alice).error == .permissionDenied)
        // A txn: compares need read, ops what they do.
        let allowed = TxnRequest(compare: [Compare(result: .equal, target: .version, key: b("b"))],
                                 success: [.put(PutRequest(key: b("k"), value: b("t")))], failure: [.range(RangeRequest(key: b("a")))])
        #expect(write(h, .txn(allowed), as: alice).error == nil)
        let denied = TxnRequest(compare: [], success: [.range(RangeRequest(key: b("c")))], failure: [])
        #expect(write(h, .txn(denied), as: alice).error == .permissionDenied)
        // No credentials, a stale revision, an unknown user.
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: .anonymous).error == .userEmpty)
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: AuthCaller(username: "alice", revision: 1)).error == .authOldRevision)
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: caller(h, "bob")).error == .permissionDenied)
        // root may do anything; the server's own entries (no caller) are not checked.
        #expect(write(h, .put(PutRequest(key: b("zz"), value: b("v"))), as: caller(h, "root")).error == nil)
        #expect(h.apply(.put(PutRequest(key: b("zz"), value: b("w")))).error == nil)
        // Attaching to, or revoking, a lease whose keys the caller cannot write is refused.
        h.apply(.leaseGrant(id: 7, ttl: 60))
        h.apply(.put(PutRequest(key: b("zz"), value: b("x"), lease: 7)))
        #expect(write(h, .leaseRevoke(id: 7), as: alice).error == .permissionDenied)
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"), lease: 7)), as: alice).error == .permissionDenied)
        #expect(write(h, .leaseRevoke(id: 7), as: caller(h, "root")).error == nil)
    }

    @Test func aPermissionChangeMakesOldCallersStale() throws {
        let h = try Harness()
        setUp(h)
        let before = caller(h, "alice")
        auth(h, .roleRevokePermission(role: "r", key: b("k"), rangeEnd: []), as: caller(h, "root"))
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: before).error == .authOldRevision)
        #expect(write(h, .put(PutRequest(key: b("k"), value: b("v"))), as: caller(h, "alice")).error == .permissionDenied)
    }

    /// etcd's interval semantics: a range is permitted only when contiguous grants cover all of it;
    /// [0] as range end means "to the end" on both sides.
    @Test func rangesMustBeCoveredWithoutGaps() {
        let p = MergedPermissions([
            AuthPermission(kind: .read, key: b("a"), rangeEnd: b("c")),
            AuthPermission(kind: .read, key: b("c"), rangeEnd: b("e")),
            AuthPermission(kind: .read, key: b("g"), rangeEnd: b("h")),
            AuthPermission(kind: .readWrite, key: b("x"), rangeEnd: [0]),
            AuthPermission(kind: .write, key: b("only"), rangeEnd: []),
        ])
        #expect(p.permits(key: b("a"), rangeEnd: b("e"), write: false))   // two grants, touching
        #expect(!p.permits(key: b("a"), rangeEnd: b("h"), write: false))  // a gap between e and g
        #expect(p.permits(key: b("d"), rangeEnd: [], write: false))
        #expect(!p.permits(key: b("e"), rangeEnd: [], write: false))       // the end is exclusive
        #expect(p.permits(key: b("x"), rangeEnd: [0], write: true))        // from-key covers to the end
        #expect(p.permits(key: b("zzz"), rangeEnd: [], write: true))
        #expect(!p.permits(key: b("w"), rangeEnd: [0], write: false))
        #expect(p.permits(key: b("only"), rangeEnd: [], write: true) && !p.permits(key: b("only"), rangeEnd: [], write: false))
        #expect(!p.permits(key: b("only1"), rangeEnd: [], write: true))     // a single key is just that key
    }

    @Test func survivesARestartInEtcdsBuckets() throws {
        let h = try Harness()
        setUp(h)
        let state = h.store.auth
        try h.reopen()
        #expect(h.store.auth == state && h.store.isAuthEnabled)
        // authpb bytes: what etcd would decode.
        let stored = try h.backend.read { try $0.get(.authUsers, b("alice")) }
        #expect(try AuthCodec.decodeUser(try #require(stored)) == AuthUser(name: "alice", password: Array("h".utf8), roles: ["r"]))
    }
}
