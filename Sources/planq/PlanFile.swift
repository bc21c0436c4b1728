import ArgumentParser
import Foundation
import Glibc
import PlanCore
import PlanStore
import PlanWorker

/// Reading plan documents.
enum PlanFile {
    /// The most bytes `enqueue --lines` reads: a batch of plans is one transaction.
    static let maxBatchBytes = 64 << 20

    /// The bytes of `path`, or of standard input for `-`, read up to `limit` bytes and one more, never
    /// whole: a missing or unreadable file is a usage error (64), a longer one an invalid plan (65).
    static func read(_ path: String, limit: Int = PlanDescription.maxDocumentBytes) throws -> [UInt8] {
        let descriptor = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            Console.complain("\(path.printable): cannot read the file: \(String(cString: strerror(errno)))")
            throw ExitStatus.usage
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count <= limit {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, min($0.count, limit + 1 - bytes.count)) }
            if got == 0 { break }
            if got < 0 {
                if errno == EINTR { continue }
                Console.complain("\(path.printable): cannot read the file: \(String(cString: strerror(errno)))")
                throw ExitStatus.usage
            }
            bytes += chunk[..<got]
        }
        guard bytes.count <= limit else {
            Console.complain("\(path.printable): more than \(limit) bytes; a plan is at most \(PlanDescription.maxDocumentBytes) bytes (1 MiB), a batch of lines \(maxBatchBytes) (64 MiB)")
            throw ExitStatus.invalidPlan
        }
        return bytes
    }

    /// The capabilities a plan may call: the built-ins, and those the workers of `store` registered.
    static func knownCapabilities(_ store: (any JobStore)?) async throws -> Set<String> {
        Set(Builtins.names).union(try await Console.run { try await store?.capabilities().map(\.name) ?? [] })
    }

    /// `bytes` validated as `enqueue` validates a plan (with `overrides` applied, and, unless `known` is
    /// `nil`, every call naming a known capability); each issue goes to stderr prefixed with `name`.
    static func validate(_ bytes: ArraySlice<UInt8>, named name: String, overriding overrides: [JSONKey: JSONValue] = [:],
                         known: Set<String>?) -> PlanDescription? {
        do {
            let plan = try PlanDescription.decode(bytes, overriding: overrides, newKey: { UUID().uuidString.lowercased() })
            var valid = true
            for (index, step) in plan.steps.enumerated() where known.map({ !$0.contains(step.call) }) ?? false {
                valid = false
                Console.complain("\(name.printable): steps[\(index)].call: no capability \"\(step.call.printable)\" is built in or registered by a worker (--allow-unknown accepts it)")
            }
            return valid ? plan : nil
        } catch {
            for issue in error.issues { Console.complain("\(name.printable): \(issue)") }
            return nil
        }
    }
}
