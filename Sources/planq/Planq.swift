import ArgumentParser

@main
struct Planq: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A persistent job queue for Linux with an embedded SQLite store.",
        subcommands: [Check.self])
}
