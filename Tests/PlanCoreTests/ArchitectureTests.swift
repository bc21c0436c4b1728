import Foundation
import Testing

/// The pure core drives no plan and does no I/O: checked by reading its sources.
@Suite struct Architecture {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")
    static let coreFolder = sources.appendingPathComponent("PlanCore")

    /// The Swift files under `Sources/target`, with their text.
    static func sourceFiles(of target: String) throws -> [(name: String, text: String)] {
        let folder = sources.appendingPathComponent(target)
        let names = try #require(FileManager.default.subpaths(atPath: folder.path)).filter { $0.hasSuffix(".swift") }
        return try names.map { ($0, try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8)) }
    }

    static let forbidden = [
        "Task.detached", "DispatchQueue", "import Foundation\n", "import FoundationNetworking", "import Glibc",
        "import Musl", "import CSQLite", "import PlanStore", "import PlanWorker", "import Dispatch", "fopen(", "FileManager",
    ]

    @Test func planCoreHasNoDriversAndNoIO() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.coreFolder.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 10)
        #expect("let t = Task { }".firstMatch(of: /(^|[^\w.])Task\s*(\(|\{)/) != nil, "the pattern finds Task {")
        for file in files {
            let text = try String(contentsOf: Self.coreFolder.appendingPathComponent(file), encoding: .utf8)
            #expect(text.firstMatch(of: /(^|[^\w.])Task\s*(\(|\{)/) == nil, "\(file) starts an unstructured Task")
            for pattern in Self.forbidden {
                #expect(!text.contains(pattern), "\(file) contains \(pattern)")
            }
        }
    }

    @Test func theLibrariesHoldNoBenchmarkAndTheWorkerKnowsNothingOfSQLite() throws {
        for target in ["PlanCore", "PlanStore", "PlanWorker"] {
            let files = try Self.sourceFiles(of: target)
            #expect(!files.isEmpty)
            for file in files {
                #expect(file.text.range(of: "bench", options: .caseInsensitive) == nil, "\(target)/\(file.name) holds benchmark code")
            }
        }
        for file in try Self.sourceFiles(of: "PlanWorker") {
            for pattern in ["SQLite", "-wal", "inotify", "import CSQLite"] {
                #expect(!file.text.contains(pattern), "PlanWorker/\(file.name) mentions \(pattern): the store's business")
            }
        }
    }

    @Test func thePackageHasOneLock() throws {
        for target in ["PlanCore", "PlanStore", "PlanWorker", "PlanBench", "planq"] {
            for file in try Self.sourceFiles(of: target) {
                for pattern in ["import Synchronization", "import Dispatch", "DispatchSemaphore", "pthread_mutex_lock"] where file.name != "Locked.swift" {
                    #expect(!file.text.contains(pattern), "\(target)/\(file.name) uses \(pattern); Locked is the package's lock")
                }
            }
        }
    }
}
