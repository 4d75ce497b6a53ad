import Yams

/// A configuration problem, located: file, line, the key path and what was expected.
///
/// `zmanager.yaml:7: workers.count: expected an integer from 0 to 1024, found "two"`.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let keyPath: String
    public let message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// Reads a YAML document with errors that name the file, the line and the key path.
/// Unknown keys are errors too: a misspelt key must not silently fall back to a default.
public struct ConfigurationReader {
    public let file: String
    let node: Node?
    public let keyPath: String
    let line: Int?
    /// Key paths set on the command line (`--set`), with the argument that set each: an error
    /// under one names that argument instead of a line of the file.
    let overrides: [String: String]

    /// Parses `text` (the contents of `file`).
    public init(yaml text: String, file: String) throws(ConfigurationError) {
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(file: file, line: Self.line(of: error), keyPath: "", message: "not valid YAML: \(error)")
        } catch {
            throw ConfigurationError(file: file, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
        self.file = file
        self.keyPath = ""
        self.line = node?.mark?.line
        self.overrides = [:]
    }

    /// Parses `text` and then applies `overrides`, each `KEY.PATH=VALUE` (VALUE is YAML: `100`,
    /// `2s`, `[ipc, tcp]`), replacing or adding that key. In `matrix.…` the rest of the path is
    /// one key (`matrix.topology.transport=[ipc]`). The result is checked as the file is, and an
    /// error under an overridden key names the argument: `--set load.in_flight=x: load.in_flight: …`.
    public init(yaml text: String, file: String, overrides arguments: [String]) throws(ConfigurationError) {
        let parsed = try ConfigurationReader(yaml: text, file: file)
        guard !arguments.isEmpty else {
            self = parsed
            return
        }
        var root = parsed.node ?? .mapping(Node.Mapping([]))
        var origins: [String: String] = [:]
        for argument in arguments {
            let origin = "--set \(argument)"
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw ConfigurationError(file: origin, line: nil, keyPath: "", message: "expected KEY.PATH=VALUE, e.g. load.in_flight=100")
            }
            var path = argument[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            if path.first == "matrix", path.count > 2 { path = ["matrix", path.dropFirst().joined(separator: ".")] }
            guard !path.contains(where: \.isEmpty) else {
                throw ConfigurationError(file: origin, line: nil, keyPath: "", message: "expected KEY.PATH=VALUE, e.g. load.in_flight=100")
            }
            let valueText = String(argument[argument.index(after: equals)...])
            let value: Node?
            do {
                value = try Yams.compose(yaml: valueText)
            } catch {
                throw ConfigurationError(file: origin, line: nil, keyPath: path.joined(separator: "."), message: "not a valid YAML value: \(error)")
            }
            guard let value else {
                throw ConfigurationError(file: origin, line: nil, keyPath: path.joined(separator: "."), message: "expected a value after '='")
            }
            root = try Self.setting(value, at: path[...], in: root, origin: origin, done: [])
            origins[path.joined(separator: ".")] = origin
        }
        self.file = file
        self.node = root
        self.keyPath = ""
        self.line = root.mark?.line
        self.overrides = origins
    }

    private static func setting(_ value: Node, at path: ArraySlice<String>, in node: Node, origin: String,
                                done: [String]) throws(ConfigurationError) -> Node {
        guard case .mapping(var mapping) = node else {
            throw ConfigurationError(file: origin, line: nil, keyPath: done.joined(separator: "."),
                                     message: "is not a mapping, so it has no key \(path.first ?? "")")
        }
        let key = path.first!
        if path.count == 1 {
            mapping[key] = value
        } else {
            let child = mapping[key] ?? .mapping(Node.Mapping([]))
            mapping[key] = try setting(value, at: path.dropFirst(), in: child, origin: origin, done: done + [key])
        }
        return .mapping(mapping)
    }

    private init(file: String, node: Node?, keyPath: String, line: Int?, overrides: [String: String]) {
        self.file = file
        self.node = node
        self.keyPath = keyPath
        self.line = node?.mark?.line ?? line
        self.overrides = overrides
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    public func error(_ message: String) -> ConfigurationError {
        if let origin = overrideOrigin {
            return ConfigurationError(file: origin, line: nil, keyPath: keyPath, message: message)
        }
        return ConfigurationError(file: file, line: line, keyPath: keyPath, message: message)
    }

    /// The `--set` argument that set this key or one above it.
    private var overrideOrigin: String? {
        guard !overrides.isEmpty else { return nil }
        var path = keyPath
        while !path.isEmpty {
            if let origin = overrides[path] { return origin }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            path = String(path[..<cut])
        }
        return nil
    }

    /// Whether the key was present at all.
    public var isPresent: Bool {
        guard let node else { return false }
        if case .scalar(let scalar) = node, scalar.tag.description == Tag.Name.null.rawValue || scalar.string == "~" || scalar.string == "null" {
            return false
        }
        return true
    }

    private var found: String {
        switch node {
        case .scalar(let scalar)?: "\"\(scalar.string)\""
        case .mapping?: "a mapping"
        case .sequence?: "a list"
        default: "nothing"
        }
    }

    /// The value under `key` of this mapping (absent keys read as absent, with defaults).
    public subscript(key: String) -> ConfigurationReader {
        let child = node?.mapping?[key]
        return ConfigurationReader(file: file, node: child, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)", line: line,
                                   overrides: overrides)
    }

    /// Checks that this is a mapping whose keys are all in `allowed`.
    public func expectMapping(allowed: [String]) throws(ConfigurationError) {
        guard isPresent else { return }
        guard let mapping = node?.mapping else { throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), found \(found)") }
        for (key, _) in mapping {
            let name = key.string ?? "\(key)"
            if !allowed.contains(name) {
                let child = ConfigurationReader(file: file, node: key, keyPath: keyPath.isEmpty ? name : "\(keyPath).\(name)", line: line,
                                                overrides: overrides)
                throw child.error("unknown key; expected one of \(allowed.joined(separator: ", "))")
            }
        }
    }

    public func string(default value: String? = nil) throws(ConfigurationError) -> String {
        guard isPresent else {
            if let value { return value }
            throw error("required: expected a string")
        }
        guard case .scalar(let scalar)? = node else { throw error("expected a string, found \(found)") }
        return scalar.string
    }

    public func int(default value: Int? = nil, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard isPresent else {
            if let value { return value }
            throw error("required: expected an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        guard case .scalar(let scalar)? = node, let number = Int(scalar.string.replacingOccurrences(of: "_", with: "")), range.contains(number) else {
            throw error("expected an integer from \(range.lowerBound) to \(range.upperBound), found \(found)")
        }
        return number
    }

    public func double(default value: Double? = nil, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard isPresent else {
            if let value { return value }
            throw error("required: expected a number from \(range.lowerBound) to \(range.upperBound)")
        }
        guard case .scalar(let scalar)? = node, let number = Double(scalar.string), range.contains(number) else {
            throw error("expected a number from \(range.lowerBound) to \(range.upperBound), found \(found)")
        }
        return number
    }

    public func bool(default value: Bool) throws(ConfigurationError) -> Bool {
        guard isPresent else { return value }
        guard case .scalar(let scalar)? = node, let flag = Bool(scalar.string.lowercased()) else {
            throw error("expected true or false, found \(found)")
        }
        return flag
    }

    /// One of `choices`.
    public func choice(_ choices: [String], default value: String) throws(ConfigurationError) -> String {
        let text = try string(default: value)
        guard choices.contains(text) else { throw error("expected one of \(choices.joined(separator: ", ")), found \"\(text)\"") }
        return text
    }

    /// A duration written as `250ms`, `2s`, `1.5s`, `100us` or `1m`.
    public func duration(default value: Duration) throws(ConfigurationError) -> Duration {
        guard isPresent else { return value }
        let text = try string()
        guard let parsed = Self.parseDuration(text) else {
            throw error("expected a duration such as 250ms, 2s, 100us or 1m, found \"\(text)\"")
        }
        return parsed
    }

    /// Parses `250ms`, `2s`, `1.5s`, `100us` or `1m`; nil for anything else.
    public static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return .nanoseconds(Int64((number * scale * 1e9).rounded()))
        }
        return nil
    }

    /// The items of a list; a single scalar reads as a one-item list.
    public func list() throws(ConfigurationError) -> [ConfigurationReader] {
        guard isPresent else { return [] }
        switch node {
        case .sequence(let sequence)?:
            return sequence.enumerated().map {
                ConfigurationReader(file: file, node: $1, keyPath: "\(keyPath)[\($0)]", line: line, overrides: overrides)
            }
        case .scalar?:
            return [self]
        default:
            throw error("expected a list, found \(found)")
        }
    }

    /// The mapping's keys in document order.
    public func keys() throws(ConfigurationError) -> [String] {
        guard isPresent else { return [] }
        guard let mapping = node?.mapping else { throw error("expected a mapping, found \(found)") }
        return mapping.keys.compactMap(\.string)
    }
}

import Foundation
