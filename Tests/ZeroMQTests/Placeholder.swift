import Testing
@testable import ZeroMQ
@Test func version() { #expect(Context.libzmqVersion.hasPrefix("4.")) }
