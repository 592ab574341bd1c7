import Foundation
import PlanCore
import Support

/// Parses a body on a helper thread while the calling thread consumes the observations in
/// batches, so parsing and writing the mirror use two cores. Memory stays bounded: at most
/// `depth` batches wait between the two.
public enum PipelinedParser {
    /// - Parameters:
    ///   - niceness: the parser thread's nice value (Linux applies it to that thread alone);
    ///     the daemon parses at 19 so a large sync gives way to status socket readers.
    ///   - consume: called on the calling thread for each observation; returning false
    ///     stops the parser (the result is then `FeedParseError.cancelled`).
    public static func parse(
        _ body: [UInt8], format: FeedFormat, options: ParseOptions, batchSize: Int = 4096,
        depth: Int = 8, niceness: Int32 = 0,
        consume: (Observation) -> Bool
    ) throws(FeedParseError) -> ParsedFeed {
        let channel = BatchChannel(depth: depth)
        LowPriorityThread.start(niceness: niceness) {
            let batch = BatchBuffer()
            var streaming = options
            streaming.sink = ObservationSink { observation in
                batch.items.append(observation)
                if batch.items.count >= batchSize {
                    let full = batch.items
                    batch.items = []
                    batch.items.reserveCapacity(batchSize)
                    return channel.put(full)
                }
                return true
            }
            do throws(FeedParseError) {
                let result = try FeedParser.parse(body, format: format, options: streaming)
                if !batch.items.isEmpty { _ = channel.put(batch.items) }
                channel.finish(.success(result))
            } catch {
                channel.finish(.failure(error))
            }
        }
        var stopped = false
        while let items = channel.take() {
            guard !stopped else { continue }
            for observation in items where !consume(observation) {
                stopped = true
                channel.cancel()
                break
            }
        }
        switch channel.result! {
        case .success(let result):
            if stopped { throw FeedParseError.cancelled }
            return result
        case .failure(let error):
            throw error
        }
    }
}

private final class BatchBuffer: @unchecked Sendable {
    var items: [Observation] = []
}

/// A bounded queue of batches between the parser thread and the consumer.
private final class BatchChannel: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [[Observation]] = []
    private let depth: Int
    private var cancelled = false
    private var finished = false
    private(set) var result: Result<ParsedFeed, FeedParseError>?

    init(depth: Int) { self.depth = depth }

    /// Blocks while the queue is full; false once the consumer cancelled.
    func put(_ batch: [Observation]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= depth && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        batches.append(batch)
        condition.broadcast()
        return true
    }

    /// The next batch, or nil once the parser finished and everything was taken.
    func take() -> [Observation]? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty && !finished { condition.wait() }
        guard !batches.isEmpty else { return nil }
        let batch = batches.removeFirst()
        condition.broadcast()
        return batch
    }

    func finish(_ result: Result<ParsedFeed, FeedParseError>) {
        condition.lock()
        self.result = result
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        batches.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
