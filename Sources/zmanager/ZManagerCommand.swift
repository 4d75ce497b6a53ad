import ArgumentParser

@main
struct ZManagerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zmanager", abstract: "ZManager for Swift")
    func run() throws {}
}
