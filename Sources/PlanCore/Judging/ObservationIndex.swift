/// All observations for a plan, grouped by figure, with feed priorities applied:
/// the highest-priority feed wins, ties go to the alphabetically first feed id.
///
/// Figures are kept per indicator under a key of plain integers (period, measure,
/// cumulative, base year) pointing into the observations as given, so judging hashes an
/// indicator code once per target rather than once per lookup, and filing an observation
/// copies none.
public struct ObservationIndex: Sendable {
    /// One figure's observations (positions in `observations`): the winner and the others,
    /// in priority order.
    struct Slot: Sendable {
        var winner: Int32
        var others: [Int32]
        /// The figure's period, and whether it is year to date (read for every target).
        var period: Period
        var cumulative: Bool
    }

    /// An indicator's figures, in the order first seen.
    struct Figures: Sendable {
        var positions: [FigureKey: Int32] = [:]
        var slots: [Slot] = []

        func slot(_ key: FigureKey) -> Slot? { positions[key].map { slots[Int($0)] } }
    }

    /// An `ObservationKey` without its indicator, as integers.
    struct FigureKey: Hashable, Sendable {
        var period: Int
        /// Measure (bits 0–1) and cumulative (bit 2).
        var flags: Int
        var baseYear: Int

        init(_ period: Period, _ measure: Measure, cumulative: Bool, baseYear: Int?) {
            self.period = period.ordinal
            let m: Int
            switch measure {
            case .level: m = 0
            case .growth: m = 1
            case .changeVsBase: m = 2
            }
            self.flags = m | (cumulative && !period.isFullYear ? 4 : 0)
            self.baseYear = measure == .changeVsBase ? (baseYear ?? Int.min) : Int.min
        }

        init(_ key: ObservationKey) {
            self.init(key.period, key.measure, cumulative: key.cumulative, baseYear: key.baseYear)
        }
    }

    /// The observations as given.
    let observations: [Observation]
    private var byIndicator: [String: Figures] = [:]
    /// True when some figure was published by more than one feed (else there is no conflict).
    private var shared = false

    /// - Parameters:
    ///   - observations: figures from any number of feeds.
    ///   - priorities: feed id → priority (absent feeds count as 0).
    public init(_ observations: [Observation], priorities: [String: Int] = [:]) {
        self.observations = observations
        // Observations come grouped by indicator (the mirror reads them so): one indicator's
        // figures are gathered, then filed under its code once.
        var current = Figures()
        var currentCode: String?
        var shared = false
        var byIndicator: [String: Figures] = [:]
        func file() {
            guard let code = currentCode else { return }
            guard var existing = byIndicator.removeValue(forKey: code) else {
                byIndicator[code] = current
                return
            }
            // The indicator again (another feed): merge figure by figure.
            for slot in current.slots {
                let o = observations[Int(slot.winner)]
                let figure = FigureKey(o.period, o.measure, cumulative: o.cumulative, baseYear: o.baseYear)
                if let position = existing.positions[figure] {
                    existing.slots[Int(position)].others += [slot.winner] + slot.others
                    shared = true
                } else {
                    existing.positions[figure] = Int32(existing.slots.count)
                    existing.slots.append(slot)
                }
            }
            byIndicator[code] = existing
        }
        var capacity = 16
        for (offset, o) in observations.enumerated() {
            if o.indicator != currentCode {
                file()
                capacity = max(capacity, current.slots.count)
                current = Figures()
                current.positions.reserveCapacity(capacity)
                current.slots.reserveCapacity(capacity)
                currentCode = o.indicator
            }
            let figure = FigureKey(o.period, o.measure, cumulative: o.cumulative, baseYear: o.baseYear)
            let next = Int32(current.slots.count)
            let position = current.positions[figure, default: next]
            if position == next {
                current.positions[figure] = next
                current.slots.append(Slot(winner: Int32(offset), others: [], period: o.period, cumulative: o.cumulative && !o.period.isFullYear))
            } else {
                current.slots[Int(position)].others.append(Int32(offset))
                shared = true
            }
        }
        file()
        self.shared = shared
        if shared {
            for code in byIndicator.keys {
                for i in byIndicator[code]!.slots.indices where !byIndicator[code]!.slots[i].others.isEmpty {
                    let slot = byIndicator[code]!.slots[i]
                    let ranked = ([slot.winner] + slot.others).sorted { a, b in
                        let fa = observations[Int(a)].feed, fb = observations[Int(b)].feed
                        let pa = priorities[fa] ?? 0, pb = priorities[fb] ?? 0
                        return pa != pb ? pa > pb : fa < fb
                    }
                    byIndicator[code]!.slots[i].winner = ranked[0]
                    byIndicator[code]!.slots[i].others = Array(ranked.dropFirst())
                }
            }
        }
        self.byIndicator = byIndicator
    }

    /// An indicator's figures (judging looks them up once per target).
    func figures(_ indicator: String) -> Figures? { byIndicator[indicator] }

    /// The winning observation for a figure, if any feed published it.
    public func winner(_ key: ObservationKey) -> Observation? {
        byIndicator[key.indicator]?.slot(FigureKey(key)).map { observations[Int($0.winner)] }
    }

    /// The conflict on a figure, when feeds published different values for it.
    public func conflict(_ key: ObservationKey) -> SourceConflict? {
        byIndicator[key.indicator]?.slot(FigureKey(key)).flatMap { conflict(key, $0) }
    }

    /// The conflict in one figure's slot, if its feeds disagree.
    func conflict(_ key: ObservationKey, _ slot: Slot) -> SourceConflict? {
        guard !slot.others.isEmpty else { return nil }
        let winner = observations[Int(slot.winner)]
        let others = slot.others.map { observations[Int($0)] }.filter { $0.value != winner.value }
        return others.isEmpty ? nil : SourceConflict(key: key, winner: winner, others: others)
    }

    /// Every figure published for an indicator.
    public func keys(for indicator: String) -> [ObservationKey] {
        byIndicator[indicator]?.slots.map { observations[Int($0.winner)].key } ?? []
    }

    /// Every conflict among the given indicators' figures, in a stable order.
    public func conflicts(indicators: [String]) -> [SourceConflict] {
        guard shared else { return [] }
        return indicators.flatMap { code -> [SourceConflict] in
            guard let figures = byIndicator[code] else { return [] }
            return figures.slots.filter { !$0.others.isEmpty }
                .map { (observations[Int($0.winner)].key, $0) }
                .sorted { ($0.0.period, $0.0.measure.rawValue) < ($1.0.period, $1.0.measure.rawValue) }
                .compactMap { conflict($0.0, $0.1) }
        }
    }
}
