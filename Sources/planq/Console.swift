import ArgumentParser
import Foundation
import PlanCore
import PlanStore

/// Output, error messages and exit statuses.
enum Console {
    /// Writes `message` to stderr, prefixed with `planq: `.
    static func complain(_ message: String) {
        FileHandle.standardError.write(Data("planq: \(message)\n".utf8))
    }

    /// Prints a JSON value on one line. C1 controls and bidirectional overrides in its strings are
    /// written as `\uXXXX` escapes (C0 ones always are): the same JSON, and nothing a plan wrote
    /// can drive the terminal.
    static func printJSON(_ value: JSONValue) {
        print(value.canonicalText.printable)
    }

    /// Runs `body`; a `StoreError` is reported on stderr and becomes its documented exit status.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw failure(error)
        }
    }

    /// Reports `error` on stderr; its documented exit status, to throw.
    static func failure(_ error: StoreError) -> ExitCode {
        complain(error.description)
        return exitCode(for: error)
    }

    private static func exitCode(for error: StoreError) -> ExitCode {
        switch error {
        case let error where error.isFault: ExitStatus.unavailable
        case .queueFull: ExitStatus.queueFull
        case .invalidPlan: ExitStatus.invalidPlan
        default: ExitCode.failure
        }
    }
}
