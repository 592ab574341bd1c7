/// All observations for a plan, grouped by figure, with feed priorities applied:
/// the highest-priority feed wins, ties go to the alphabetically first feed id.
public struct ObservationIndex: Sendable {
    private var byKey: [ObservationKey: [Observation]] = [:]
    private var keysByIndicator: [String: [ObservationKey]] = [:]
    private let priorities: [String: Int]

    /// - Parameters:
    ///   - observations: figures from any number of feeds.
    ///   - priorities: feed id → priority (absent feeds count as 0).
    public init(_ observations: [Observation], priorities: [String: Int] = [:]) {
        self.priorities = priorities
        for observation in observations {
            let key = observation.key
            if byKey[key] == nil { keysByIndicator[key.indicator, default: []].append(key) }
            byKey[key, default: []].append(observation)
        }
        for key in byKey.keys {
            byKey[key]!.sort { a, b in
                let pa = priorities[a.feed] ?? 0, pb = priorities[b.feed] ?? 0
                return pa != pb ? pa > pb : a.feed < b.feed
            }
        }
    }

    /// The winning observation for a figure, if any feed published it.
    public func winner(_ key: ObservationKey) -> Observation? { byKey[key]?.first }

    /// The conflict on a figure, when feeds published different values for it.
    public func conflict(_ key: ObservationKey) -> SourceConflict? {
        guard let all = byKey[key], let first = all.first else { return nil }
        let others = all.dropFirst().filter { $0.value != first.value }
        return others.isEmpty ? nil : SourceConflict(key: key, winner: first, others: Array(others))
    }

    /// Every figure published for an indicator.
    public func keys(for indicator: String) -> [ObservationKey] { keysByIndicator[indicator] ?? [] }

    /// Every conflict among the given indicators' figures, in a stable order.
    public func conflicts(indicators: [String]) -> [SourceConflict] {
        indicators.flatMap { code in
            keys(for: code).sorted { ($0.period, $0.measure.rawValue) < ($1.period, $1.measure.rawValue) }
                .compactMap(conflict)
        }
    }
}
