import ArgumentParser
import Foundation

/// Reading plan documents.
enum PlanFile {
    /// The bytes of `path`, or of standard input for `-`; a missing or unreadable file is a usage error.
    static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: path) else {
            Console.complain("\(path): cannot read the file")
            throw ExitStatus.usage
        }
        return Array(data)
    }
}
