import Foundation
import Mirror

/// A destination for alert events (the alert log; later Alertmanager, webhooks, e-mail).
/// The mirror keeps one durable cursor per sink — the `seq` through which it has every
/// event — so each sink gets every event once, in `seq` order, from wherever it stopped,
/// and one failing sink holds up no other.
public protocol AlertSink: Sendable {
    /// The sink's name in the mirror's `sink_cursor` table.
    var id: String { get }
    /// Where a sink the mirror has not seen starts: at the first event ever, or at the
    /// current end of the stream (no history replayed).
    var startsAtBeginning: Bool { get }
    /// Delivers `events` (in `seq` order, every one after the sink's cursor) and returns the
    /// `seq` through which all of them are delivered for good (nil: none). Throws when it
    /// could deliver none; events not confirmed are offered again next time.
    func deliver(_ events: [StoredEvent]) async throws -> Int?
}

/// Runs deliveries from the mirror to sinks.
public enum SinkDelivery {
    /// Events offered to a sink per round.
    static let batch = 1000

    /// Offers `sink` every event after its cursor, batch by batch, advancing the cursor as it
    /// confirms them; returns how many events it confirmed.
    @discardableResult
    public static func run(_ sink: any AlertSink, mirror: Mirror) async throws -> Int {
        var cursor: Int
        if let known = try await mirror.sinkCursor(sink.id) {
            cursor = known
        } else {
            cursor = sink.startsAtBeginning ? 0 : try await mirror.lastEventSeq()
            try await mirror.advanceSink(sink.id, to: cursor)
        }
        var confirmed = 0
        while true {
            let events = try await mirror.events(after: cursor, limit: batch)
            guard !events.isEmpty else { return confirmed }
            guard let through = try await sink.deliver(events), through > cursor else { return confirmed }
            try await mirror.advanceSink(sink.id, to: through)
            confirmed += events.filter { $0.seq <= through }.count
            cursor = through
            if events.count < batch { return confirmed }
        }
    }
}
