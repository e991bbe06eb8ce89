import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP proxy in front of the MariaDB test primary that, once armed, cuts one connection at a chosen
/// moment: it forwards the client's bytes that match `cut` to the server, then closes the client's side without
/// forwarding the answer, and the server's side once the server has answered (it ran what it was sent).
/// The client sees a lost connection in the middle of a round trip, as it would if the network or the process on
/// the other side died there. Blocking sockets on threads of its own: it must not depend on the concurrency pool.
final class CuttingProxy: Sendable {
    /// When to cut: given the text the client sent on this connection since its last `COMMIT` (the transaction so
    /// far, this packet included) and this packet (one whole statement or script, however the bytes arrived),
    /// whether to cut once the packet is forwarded.
    typealias Rule = @Sendable (_ transaction: String, _ packet: String) -> Bool

    let port: Int
    private let listener: Int32
    private let targetPort: Int
    private let armedRule = Mutex<Rule?>(nil)
    private let cutCount = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw TestFailure("the proxy could not listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "cutting-proxy-accept"
        thread.start()
    }

    /// Cuts the next connection whose bytes match `rule`, once.
    func arm(_ rule: @escaping Rule) { armedRule.withLock { $0 = rule } }

    /// How many connections were cut.
    var cuts: Int { cutCount.load(ordering: .acquiring) }

    /// Stops accepting (the accept thread closes the listener: closed here, its number could be reused by another
    /// test's socket before that thread's next `accept`) and ends every connection within 200 ms.
    func stop() {
        // Once, and before the accept thread may close the listener (it does once `stopped` is set): a shutdown
        // after that could reach another socket given the listener's number since.
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        stopped.store(true, ordering: .releasing)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        defer { close(listener) }
        while !stopped.load(ordering: .acquiring) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno != EINTR { usleep(10_000) }  // out of descriptors, say: not a busy loop
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { close(client); close(server); continue }
            let thread = Thread { [self] in pump(client: client, server: server) }
            thread.name = "cutting-proxy-pump"
            thread.start()
        }
    }

    private func pump(client: Int32, server: Int32) {
        defer { close(client); close(server) }
        var transaction = ""
        var packets = ClientPackets()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !stopped.load(ordering: .acquiring) {
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, 200) < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 {
                let n = recv(server, &buffer, buffer.count, 0)
                guard n > 0, Self.sendAll(client, buffer, n) else { return }
            }
            if fds[0].revents != 0 {
                let n = recv(client, &buffer, buffer.count, 0)
                guard n > 0, Self.sendAll(server, buffer, n) else { return }
                // Judged a whole packet at a time: a statement split across two reads (under load) still matches.
                for statement in packets.completed(adding: buffer[0..<n]) {
                    transaction += statement
                    if takeRule(matching: transaction, statement) {
                        cutCount.add(1, ordering: .releasing)
                        shutdown(client, Int32(SHUT_RDWR))
                        awaitAnswer(from: server)  // the server ran what it was sent: its answer is what the client never sees
                        return
                    }
                    if statement.contains("COMMIT") || transaction.utf8.count > 1 << 20 { transaction = "" }
                }
            }
        }
    }

    /// Waits (up to 30 s, however loaded the machine) until the server answers what it was sent last.
    private func awaitAnswer(from server: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            var watched = pollfd(fd: server, events: Int16(POLLIN), revents: 0)
            let ready = poll(&watched, 1, 200)
            if ready < 0, errno != EINTR { return }
            if ready > 0 { _ = recv(server, &buffer, buffer.count, 0); return }
        }
    }

    /// Whether the armed rule matches; it is then disarmed (one cut per arming).
    private func takeRule(matching transaction: String, _ chunk: String) -> Bool {
        armedRule.withLock { rule in
            guard let armed = rule, armed(transaction, chunk) else { return false }
            rule = nil
            return true
        }
    }

    private static func sendAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var sent = 0
        while sent < count {
            let n = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }
}

/// The client's side of the MySQL protocol cut into its packets (3 bytes of length, 1 of sequence, the payload),
/// however the bytes arrived: what a rule sees is always one whole packet's text.
struct ClientPackets {
    private var pending: [UInt8] = []

    /// The text of every packet that `bytes` completes, in order.
    mutating func completed(adding bytes: ArraySlice<UInt8>) -> [String] {
        pending.append(contentsOf: bytes)
        var texts: [String] = []
        var start = 0
        while pending.count - start >= 4 {
            let length = Int(pending[start]) | Int(pending[start + 1]) << 8 | Int(pending[start + 2]) << 16
            guard pending.count - start - 4 >= length else { break }
            texts.append(String(decoding: pending[(start + 4)..<(start + 4 + length)], as: UTF8.self))
            start += 4 + length
        }
        pending.removeFirst(start)
        return texts
    }
}
