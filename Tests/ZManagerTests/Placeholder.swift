import Testing
@testable import ZManager
@Test func protocolVersionIsOne() { #expect(ZManagerInfo.protocolVersion == 1) }
