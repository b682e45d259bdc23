import XCTest
@testable import PeerTransport
