import Foundation
import PlanCore

/// Plain text tables, columns padded to their widest cell.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        // Cells may quote a plan (keys, errors, outputs): escaped so that none drives the terminal.
        let all = [header] + rows.map { $0.map(\.printable) }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
