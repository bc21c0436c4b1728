/// Wake-ups from a store: an element each time the database may have changed (another process
/// committed). Consecutive changes may arrive as one; none is lost while nobody iterates.
/// The source stops when the iteration ends.
public struct StoreChanges: AsyncSequence, Sendable {
    public typealias Element = Void

    private let stream: AsyncStream<Void>
    private let setThrottle: @Sendable (Bool) -> Void

    /// `stream` yields the changes; `throttle` is told when the consumer wants fewer of them.
    public init(stream: AsyncStream<Void>, throttle: @escaping @Sendable (Bool) -> Void) {
        self.stream = stream
        setThrottle = throttle
    }

    public func makeAsyncIterator() -> AsyncStream<Void>.Iterator { stream.makeAsyncIterator() }

    /// On: the consumer can act on a change only now and then (a worker without a free slot), so
    /// changes arrive at most every `throttledPause`; what happens meanwhile arrives as one when
    /// that pause ends or the throttle is lifted.
    public func throttle(_ on: Bool) { setThrottle(on) }

    /// While throttled, the least time between two changes.
    public static let throttledPause = Duration.milliseconds(200)
}
