import Foundation
import Testing

/// The pure core drives no plan and does no I/O: checked by reading its sources.
@Suite struct Architecture {
    static let coreFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/PlanCore")

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
}
