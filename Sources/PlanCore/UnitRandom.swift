/// A source of uniformly distributed numbers in `0..<1`, injected wherever jitter is drawn.
public typealias UnitRandom = @Sendable () -> Double

/// The system random generator as a `UnitRandom`.
public let systemUnitRandom: UnitRandom = { Double.random(in: 0..<1) }
