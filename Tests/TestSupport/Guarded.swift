import Foundation

/// A value shared between a test and the threads it starts, behind a lock.
public final class Guarded<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public var current: Value { lock.withLock { value } }

    public func set(_ newValue: Value) { lock.withLock { value = newValue } }

    /// Changes the value in place under the lock.
    public func update(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}
