import Pickle
import Testing

/// The decoder must never trap: every input gives a value or a ``PickleError``. When it gives a
/// value, encoding that value and decoding again must give the same value back.
@Suite struct FuzzTests {
    /// Decodes, and for successes checks the encode/decode round trip.
    static func check(_ bytes: [UInt8]) -> Bool {
        switch decodeResult(bytes) {
        case .failure:
            return false
        case .success(let value):
            let again = decodeResult(PickleEncoder.encode(value, protocol: 4))
            #expect(again.map(typedDump) == .success(typedDump(value)), "round trip of \(hex(bytes))")
            return true
        }
    }

    @Test func truncationsAndBitFlipsOfFixtures() {
        var random = SeededGenerator(seed: 0x5EED_0001)
        var cases = 0
        var decoded = 0
        for fixture in cpythonFixtures {
            let bytes = fixture.bytes
            guard bytes.count <= 4096 else { continue }
            // Every truncation of small fixtures; a sample for larger ones.
            let cuts = bytes.count <= 256 ? Array(0..<bytes.count) : (0..<64).map { _ in Int.random(in: 0..<bytes.count, using: &random) }
            for cut in cuts {
                cases += 1
                #expect(!Self.check(Array(bytes[..<cut])) || cut == bytes.count, "truncated at \(cut) decoded")
            }
            for _ in 0..<24 {
                var mutated = bytes
                let flips = Int.random(in: 1...3, using: &random)
                for _ in 0..<flips {
                    let index = Int.random(in: 0..<mutated.count, using: &random)
                    mutated[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                }
                cases += 1
                if Self.check(mutated) { decoded += 1 }
            }
        }
        #expect(cases > 3000)
        #expect(decoded > 0)  // some flips only change data bytes
    }

    @Test func randomBytes() {
        var random = SeededGenerator(seed: 0x5EED_0002)
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<48, using: &random)
            _ = Self.check((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
        }
    }

    /// Random programs over the data opcodes with small arguments: these reach deep into the
    /// machine (marks, memo, containers), unlike uniformly random bytes.
    @Test func randomDataOpcodePrograms() {
        var random = SeededGenerator(seed: 0x5EED_0003)
        let pieces: [[UInt8]] = [
            [0x28], [0x30], [0x31], [0x32], [0x4E], [0x88], [0x89], [0x4B, 0x07], [0x4A, 1, 0, 0, 0x80],
            [0x4D, 1, 2], [0x8A, 0x01, 0xFF], [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0], [0x8C, 0x01, 0x61],
            [0x43, 0x01, 0x62], [0x96, 1, 0, 0, 0, 0, 0, 0, 0, 0x63], [0x5D], [0x61], [0x65], [0x6C],
            [0x29], [0x74], [0x85], [0x86], [0x87], [0x7D], [0x64], [0x73], [0x75], [0x8F], [0x90],
            [0x91], [0x94], [0x71, 0x00], [0x71, 0x01], [0x68, 0x00], [0x68, 0x01], [0x68, 0x02],
            [0x6A, 0, 0, 0, 0], [0x72, 2, 0, 0, 0], [0x49, 0x31, 0x0A], [0x56, 0x78, 0x0A],
            [0x8C, 0x08], Array("builtins".utf8), [0x8C, 0x09], Array("bytearray".utf8), [0x93], [0x52],
        ]
        var decoded = 0
        for _ in 0..<4000 {
            var program: [UInt8] = [0x80, 0x04]
            for _ in 0..<Int.random(in: 1...24, using: &random) {
                program += pieces.randomElement(using: &random)!
            }
            program.append(0x2E)
            if Self.check(program) { decoded += 1 }
        }
        #expect(decoded > 20)
    }
}
