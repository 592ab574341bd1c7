import Foundation

extension Array where Element: Sendable {
    /// `map` spread over the machine's cores (Dispatch's `concurrentPerform`), results in the
    /// original order: for independent, CPU-bound work on many elements, such as hashing every
    /// plan of a province.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        guard count > 1 else { return map(transform) }
        let results = Locked<[T?]>(Array<T?>(repeating: nil, count: count))
        // A few chunks per core, so that a slow element does not hold the rest back.
        let chunks = Swift.min(count, ProcessInfo.processInfo.activeProcessorCount * 4)
        let elements = self
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let range = (chunk * elements.count / chunks)..<((chunk + 1) * elements.count / chunks)
            let mapped = range.map { transform(elements[$0]) }
            results.withLock { all in
                for (offset, value) in mapped.enumerated() { all[range.lowerBound + offset] = value }
            }
        }
        return results.current.map { $0! }
    }
}
