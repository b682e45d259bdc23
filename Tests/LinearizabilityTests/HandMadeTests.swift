// Hand-made histories: each must pass or must fail, and the brute force must agree.
import Testing
@testable import Linearizability

private func expectPass(_ builder: Builder, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = Linearizability.check(builder.history)
    #expect(result == .linearizable, "\(result)", sourceLocation: sourceLocation)
    #expect(BruteForce.checkPerKey(builder.history), "brute force disagrees", sourceLocation: sourceLocation)
}

@discardableResult
private func expectFail(_ builder: Builder, sourceLocation: SourceLocation = #_sourceLocation) -> Violation? {
    let result = Linearizability.check(builder.history)
    #expect(result.isViolation, "\(result)", sourceLocation: sourceLocation)
    #expect(!BruteForce.checkPerKey(builder.history), "brute force disagrees", sourceLocation: sourceLocation)
    if case .notLinearizable(let violation) = result { return violation }
    return nil
}

@Suite struct MustPass {
    @Test func emptyHistory() {
        #expect(Linearizability.check(History()) == .linearizable)
    }

    @Test func sequentialPutsAndGets() {
        var h = Builder()
        h.get(0, "x", nil, 0, 1)
        h.put(0, "x", "1", 2, 3)
        h.get(1, "x", "1", 4, 5)
        h.put(1, "x", "2", 6, 7)
        h.get(0, "x", "2", 8, 9)
        expectPass(h)
    }

    @Test func readsOverlappingAPutMaySeeEitherValueButNotGoBack() {
        var h = Builder()
        h.put(0, "x", "1", 0, 10)
        h.get(1, "x", nil, 1, 2)
        h.get(1, "x", "1", 3, 4)
        h.get(2, "x", "1", 5, 6)
        h.get(1, "x", "1", 11, 12)
        expectPass(h)
    }

    @Test func concurrentPutsMayTakeEffectInEitherOrder() {
        var h = Builder()
        h.put(0, "x", "1", 0, 10)
        h.put(1, "x", "2", 0, 10)
        h.get(2, "x", "2", 1, 2)
        h.get(2, "x", "1", 11, 12)
        expectPass(h)
    }

    @Test func equalTimesAreConcurrent() {
        // A put returning at 5 and a get invoked at 5 overlap: the get may precede the put.
        var h = Builder()
        h.put(0, "x", "1", 0, 5)
        h.get(1, "x", nil, 5, 6)
        expectPass(h)
    }

    @Test func compareAndSetSuccessAndFailure() {
        var h = Builder()
        h.cas(0, "x", nil, "a", succeeded: true, 0, 1)  // create if absent
        h.cas(1, "x", nil, "z", succeeded: false, 2, 3)
        h.cas(0, "x", "a", "b", succeeded: true, 4, 5)
        h.cas(1, "x", "a", "c", succeeded: false, 6, 7)
        h.get(2, "x", "b", 8, 9)
        expectPass(h)
    }

    @Test func concurrentCompareAndSetsOneWins() {
        var h = Builder()
        h.put(0, "x", "a", 0, 1)
        h.cas(1, "x", "a", "b", succeeded: false, 2, 6)
        h.cas(2, "x", "a", "c", succeeded: true, 3, 5)
        h.get(0, "x", "c", 7, 8)
        expectPass(h)
    }

    @Test func deletes() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.delete(1, "x", deleted: 1, 2, 3)
        h.get(0, "x", nil, 4, 5)
        h.delete(1, "x", deleted: 0, 6, 7)
        h.delete(0, "x", deleted: nil, 8, 9)
        h.put(1, "x", "2", 10, 11)
        h.get(0, "x", "2", 12, 13)
        expectPass(h)
    }

    @Test func unknownWriteThatHappened() {
        var h = Builder()
        h.unknown(0, .put(key: "x", value: "1"), 0)
        h.get(1, "x", "1", 5, 6)
        h.get(1, "x", "1", 7, 8)
        expectPass(h)
    }

    @Test func unknownWriteThatDidNotHappen() {
        var h = Builder()
        h.unknown(0, .put(key: "x", value: "1"), 0)
        h.unknown(0, .compareAndSet(key: "x", expected: nil, new: "2"), 1)
        h.unknown(0, .delete(key: "x"), 2)
        h.get(1, "x", nil, 5, 6)
        h.get(1, "x", nil, 7, 8)
        expectPass(h)
    }

    @Test func unknownWriteMayTakeEffectAfterItsClientMovedOn() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.unknown(0, .put(key: "x", value: "2"), 2)
        h.get(0, "x", "1", 3, 4)
        h.get(1, "x", "2", 100, 101)
        expectPass(h)
    }

    @Test func unknownCompareAndSetAppliesOnlyIfItsComparisonHolds() {
        var h = Builder()
        h.put(0, "x", "a", 0, 1)
        h.unknown(1, .compareAndSet(key: "x", expected: "a", new: "b"), 2)
        h.get(0, "x", "b", 3, 4)
        expectPass(h)
    }

    @Test func failedOperationsAreIgnored() {
        var h = Builder()
        h.failed(0, .put(key: "x", value: "1"), 0, 1)
        h.get(1, "x", nil, 2, 3)
        h.failed(1, .get(key: "x"), 4, 5)
        expectPass(h)
    }

    @Test func serializableReadMayBeStale() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.put(0, "x", "2", 2, 3)
        h.get(1, "x", nil, 4, 5, serializable: true)
        h.get(1, "x", "1", 6, 7, serializable: true)
        h.get(1, "x", "2", 8, 9)
        expectPass(h)
    }

    @Test func keysAreIndependent() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.put(0, "y", "1", 2, 3)
        h.get(1, "y", "1", 4, 5)
        h.get(1, "x", "1", 6, 7)
        h.delete(2, "y", deleted: 1, 8, 9)
        h.get(1, "x", "1", 10, 11)
        expectPass(h)
    }

    @Test func valuesMayRepeat() {
        // Non-unique values: the second read of "1" is explained by the second put.
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.put(0, "x", "2", 2, 3)
        h.put(1, "x", "1", 4, 10)
        h.get(2, "x", "2", 5, 6)
        h.get(2, "x", "1", 7, 8)
        expectPass(h)
    }
}

@Suite struct MustFail {
    @Test func staleReadAfterACompletedWrite() throws {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.get(1, "x", nil, 2, 3)
        let violation = try #require(expectFail(h))
        #expect(violation.key == "x")
        #expect(violation.stuck.map(\.operation.id) == [1])
        #expect(violation.description.contains("#1 c1 get(x) -> nil"))
        #expect(violation.core.map(\.id) == [0, 1])
    }

    @Test func readOfAValueNeverWritten() throws {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.get(1, "x", "7", 2, 3)
        let violation = try #require(expectFail(h))
        #expect(violation.summary.contains("no operation on the key wrote"))
    }

    @Test func readOfAFailedWrite() {
        var h = Builder()
        h.failed(0, .put(key: "x", value: "1"), 0, 1)
        h.get(1, "x", "1", 2, 3)
        expectFail(h)
    }

    @Test func twoCompareAndSetsBothSucceedOnTheSameExpectedValue() {
        var h = Builder()
        h.put(0, "x", "a", 0, 1)
        h.cas(1, "x", "a", "b", succeeded: true, 2, 6)
        h.cas(2, "x", "a", "c", succeeded: true, 3, 5)
        expectFail(h)
    }

    @Test func compareAndSetFailsThoughTheValueMatched() {
        var h = Builder()
        h.put(0, "x", "a", 0, 1)
        h.cas(1, "x", "a", "b", succeeded: false, 2, 3)
        expectFail(h)
    }

    @Test func lostAcknowledgedWrite() throws {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.put(1, "x", "2", 2, 3)
        h.get(2, "x", "1", 10, 11)
        h.get(3, "x", "2", 4, 5)
        h.get(3, "x", "1", 12, 13)
        let violation = try #require(expectFail(h))
        // Both puts and one of the reads of "1" (either suffices); the read of "2" is innocent.
        let core = violation.core.map(\.id).sorted()
        #expect(core == [0, 1, 2] || core == [0, 1, 4], "\(violation)")
    }

    @Test func readsGoBackInTime() {
        var h = Builder()
        h.put(0, "x", "1", 0, 10)
        h.get(1, "x", "1", 1, 2)
        h.get(2, "x", nil, 3, 4)
        expectFail(h)
    }

    @Test func wrongDeletedCount() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.delete(1, "x", deleted: 0, 2, 3)
        expectFail(h)
    }

    @Test func unknownWriteCannotTakeEffectBeforeItsInvocation() {
        var h = Builder()
        h.get(1, "x", "1", 0, 1)
        h.unknown(0, .put(key: "x", value: "1"), 2)
        expectFail(h)
    }

    @Test func serializableReadsMustNotGoBackwards() {
        var h = Builder()
        h.put(0, "x", "1", 0, 1)
        h.put(0, "x", "2", 2, 3)
        h.get(1, "x", "2", 4, 5, serializable: true)
        h.get(1, "x", "1", 6, 7, serializable: true)
        expectFail(h)
    }

    @Test func serializableReadMustSeeItsOwnClientsWrite() {
        var h = Builder()
        h.put(1, "x", "1", 0, 1)
        h.get(1, "x", nil, 2, 3, serializable: true)
        expectFail(h)
    }

    @Test func serializableReadMustNotSeeTheFuture() {
        var h = Builder()
        h.get(1, "x", "1", 0, 1, serializable: true)
        h.put(0, "x", "1", 2, 3)
        expectFail(h)
    }

    @Test func violationOnOneKeyOfMany() throws {
        var h = Builder()
        for i in 0..<20 { h.put(i % 3, "k\(i)", "v", 2 * i, 2 * i + 1) }
        h.put(0, "x", "1", 100, 101)
        h.put(0, "x", "2", 102, 103)
        h.get(1, "x", "1", 104, 105)
        let violation = try #require(expectFail(h))
        #expect(violation.key == "x")
    }
}

@Suite struct BudgetsAndMalformedHistories {
    @Test func malformedHistoriesAreInconclusive() {
        var h = Builder()
        h.put(0, "x", "1", 5, 1)  // returns before it is invoked
        #expect(!Linearizability.check(h.history).isLinearizable)
        var wrongOutput = Builder()
        wrongOutput.put(0, "x", "1", 0, 1)
        wrongOutput.operations[0].outcome = .ok(.succeeded(true))
        guard case .inconclusive = Linearizability.check(wrongOutput.history) else {
            Issue.record("a put answered like a CAS is not a valid history")
            return
        }
    }

    @Test func tooManyOperationsPerKeyIsInconclusive() {
        var h = Builder()
        for i in 0..<10 { h.put(0, "x", "\(i)", 2 * i, 2 * i + 1) }
        let result = Linearizability.check(h.history, limits: Limits(maxOperationsPerKey: 5))
        guard case .inconclusive(let reason) = result else { Issue.record("\(result)"); return }
        #expect(reason.contains("10 operations"))
    }

    @Test func stepBudgetIsInconclusive() {
        // Many concurrent puts of the same value and a contradicting read at the end: every
        // order must be refuted; with a tiny budget the answer is inconclusive, never a guess.
        var h = Builder()
        for i in 0..<12 { h.put(i, "x", "\(i % 2)", 0, 100) }
        h.get(20, "x", "1", 101, 102)
        h.get(21, "x", "0", 103, 104)
        let result = Linearizability.check(h.history, limits: Limits(maxStepsPerKey: 10))
        guard case .inconclusive(let reason) = result else { Issue.record("\(result)"); return }
        #expect(reason.contains("step limit"))
        #expect(Linearizability.check(h.history).isViolation)
    }
}
