/// A verdict's pace arithmetic in words, in the plan's language (alert messages, tables).
public enum PaceText {
    /// e.g. "31.7 pp behind the share of the year elapsed (60.0% done, 91.7% of the year gone)" /
    /// "落后序时进度 31.7 个百分点（完成 60.0%，序时 91.7%）"; "needs 8.0% in the rest of the year" /
    /// "其余时间需增长 8.0%"; nil when the verdict has no pace fields.
    public static func phrase(_ v: Verdict, language: PlanLanguage) -> String? {
        guard let pace = v.pace else { return nil }
        var parts: [String] = []
        if let gap = pace.gapPP, let progress = pace.progress, let expected = pace.expectedProgress {
            let amount = one(abs(gap))
            let behind = gap.value < 0
            switch language {
            case .zh:
                parts.append("\(behind ? "落后" : "快于")序时进度 \(amount) 个百分点（完成 \(one(progress))%，序时 \(one(expected))%）")
            case .en:
                parts.append(
                    "\(amount) pp \(behind ? "behind" : "ahead of") the share of the year elapsed (\(one(progress))% done, \(one(expected))% of the year gone)")
            }
        }
        if let rest = pace.requiredRest {
            switch language {
            case .zh: parts.append(rest.value < 0 ? "其余时间需下降 \(one(abs(rest)))%" : "其余时间需增长 \(one(rest))%")
            case .en: parts.append("needs \(one(rest))% in the rest of the year")
            }
        }
        if let expected = pace.expectedToDate {
            let year = v.period?.description ?? ""
            var text: String
            switch language {
            case .zh: text = "按匀速路径 \(year) 年应达 \(one(expected))%"
            case .en: text = "the constant-rate path stands at \(one(expected))% in \(year)"
            }
            if let perYear = pace.requiredPerYear {
                switch language {
                case .zh: text += "，此后每年需 \(one(perYear))%"
                case .en: text += "; needs \(one(perYear))% a year from here"
                }
            }
            parts.append(text)
        }
        guard !parts.isEmpty else { return nil }
        return parts.joined(separator: language == .zh ? "；" : "; ")
    }

    /// A percentage with one decimal (the words round; the JSON keeps two).
    static func one(_ f: Figure) -> String { Figure(f.value, scale: 1).description }

    static func abs(_ f: Figure) -> Figure { f.value < 0 ? -f : f }
}
