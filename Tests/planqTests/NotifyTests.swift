import Foundation
import Glibc
import Testing

/// A datagram socket standing in for systemd's notify socket.
final class NotifyListener {
    let descriptor: Int32
    /// What `NOTIFY_SOCKET` is set to: a path, or `@name` for an abstract socket.
    let address: String

    init(abstract: Bool, folder: URL) {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        self.descriptor = descriptor
        var name = sockaddr_un()
        name.sun_family = sa_family_t(AF_UNIX)
        let text = abstract ? "planq-test-\(UUID().uuidString.prefix(12))" : folder.appendingPathComponent("notify.sock").path
        var bytes = Array(text.utf8)
        if abstract { bytes.insert(0, at: 0) }
        withUnsafeMutableBytes(of: &name.sun_path) { buffer in for (index, byte) in bytes.enumerated() { buffer[index] = byte } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &name) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        precondition(bound == 0, "bind failed: \(errno)")
        address = abstract ? "@" + text : text
    }

    deinit { close(descriptor) }

    /// Every datagram received until `timeout` passes with none arriving, or one contains `until`.
    func receive(until marker: String, timeout: Duration = .seconds(15)) -> [String] {
        var messages: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let message = String(decoding: buffer[..<count], as: UTF8.self)
            messages.append(message)
            if message.contains(marker) { break }
        }
        return messages
    }
}

@Suite struct SystemdNotify {
    @Test(arguments: [false, true])
    func sendsReadyWatchdogStatusAndStopping(abstract: Bool) throws {
        let workspace = Workspace()
        let listener = NotifyListener(abstract: abstract, folder: workspace.folder)
        let worker = try WorkerProcess(workspace, [], environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"])
        let started = listener.receive(until: "STATUS=running")
        #expect(started.first?.hasPrefix("READY=1") == true, "\(started)")
        #expect(started.contains("WATCHDOG=1"))
        #expect(started.contains { $0.hasPrefix("STATUS=running 0 here") })
        let idle = listener.receive(until: "never", timeout: .milliseconds(700))
        #expect(idle.filter { $0 == "WATCHDOG=1" }.count >= 2, "an idle worker keeps the watchdog fed: \(idle)")
        worker.signal(SIGTERM)
        #expect(listener.receive(until: "STOPPING=1").last?.hasPrefix("STOPPING=1") == true)
        #expect(worker.waitForExit() == 0)
    }
}
