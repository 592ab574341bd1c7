import Configuration
import Foundation
import Mirror
import NIOHTTP1
import PlanCore
import Support

/// A request rejected while reading its query: the answer to send.
struct QueryError: Error {
    let response: StatusResponse
    init(_ response: StatusResponse) { self.response = response }
}

extension DaemonRunner {
    /// Entries per `/v1/observations` page unless `?limit=` says otherwise, and the most it may ask.
    static let observationsPage = 1000
    static let observationsMaxPage = 10_000

    /// The status socket's endpoints: the one list of what exists (404 and 405 answers and
    /// docs/status-socket.md come from it).
    static let routes: [Route<DaemonRunner>] = [
        Route(.GET, "/v1/health", "200 `{\"status\":\"ok\"}`; 503 when the database does not answer") { d, _ in
            await d.mirror.isHealthy()
                ? .json(#"{"status":"ok"}"#)
                : .error(.serviceUnavailable, "the database \(d.state.current.config.database) does not answer")
        },
        Route(.GET, "/v1/status", "version, pid, uptime, paths, feed counts, last and next sync, firing alerts") { d, _ in
            .json(try await d.statusJSON().text)
        },
        Route(.GET, "/v1/indicators", "the verdicts; `?plan=ID`, `?year=YYYY`, `?as_of=TIME`") { d, request in
            if let asOf = request.query["as_of"] { return try await d.asOfResponse(request, asOf) }
            switch d.indicatorsQuery(request) {
            case .failure(let rejected): return rejected.response
            case .success(let (plan, year)?):
                return d.verdictsResponse(
                    try await d.mirror.verdictTexts(plan: plan, year: year), releases: try await d.mirror.releasesText(plan: plan))
            case .success(nil):
                return d.allVerdictsResponse(year: request.query["year"].flatMap { Int($0) })
            }
        },
        Route(
            .GET, "/v1/alerts",
            "alerts with their latest event, acknowledgement (`ack`) and matching silences (`silenced_by`); `?state=firing` or `?state=resolved`"
        ) { d, request in
            let filter = request.query["state"]
            if let filter, filter != "firing", filter != "resolved" {
                return .error(.badRequest, "state must be firing or resolved, not '\(DisplayText.excerpt(filter))'")
            }
            return .json(JSONValue.object([("alerts", .array(try await d.mirror.alertsJSON(state: filter)))]).text)
        },
        Route(.GET, "/v1/feeds", "per feed: URL without credentials, last outcome, status, bytes, duration, validators, failures, next due") { d, _ in
            .json(try await d.feedsJSON().text)
        },
        Route(
            .GET, "/v1/observations",
            "one page of an indicator's values: `?indicator=CODE`, `&history=1` for revisions, `&limit=N` (1–10000, default 1000), `&after=NEXT`"
        ) { d, request in
            try await d.observationsPage(request)
        },
        Route(.POST, "/v1/sync", "fetch now (`?feed=ID` for one): 202, `started` or `joined` a cycle that runs or waits") { d, request in
            d.syncNow(request)
        },
        Route(.POST, "/v1/reload", "re-read the configuration (as SIGHUP); 422 with the error when it is invalid") { d, _ in
            if let error = await d.reload() {
                return .error(.unprocessableEntity, "the new configuration is invalid and was ignored: \(error)")
            }
            return .json(#"{"status":"reloaded"}"#)
        },
        Route(.GET, "/v1/sinks", "per notification sink: kind, URL without secrets, cursor, lag (events, seconds), delivered, failed, last success, last error")
        { d, _ in
            .json(try await d.sinksJSON().text)
        },
        Route(.GET, "/v1/acks", "acknowledgements in force; `?history=1`: every one, with who ended it, when and why") { d, request in
            try await d.acksResponse(request)
        },
        Route(.POST, "/v1/acks", "acknowledge a firing alert: JSON `key`, `note`, `by`, `until` or `until_next_release`; 201, 422 on bad input") { d, request in
            await d.acknowledge(request)
        },
        Route(.DELETE, "/v1/acks/{key}", "withdraw an acknowledgement (`/` in the key as `%2F`; `?by=NAME`); 404 when none is in force") { d, request in
            await d.unacknowledge(request)
        },
        Route(.GET, "/v1/silences", "silences in force; `?history=1`: every one") { d, request in
            try await d.silencesResponse(request)
        },
        Route(.POST, "/v1/silences", "mute matching alerts' notifications: JSON `plans`, `indicators`, `alerts`, `feeds`, `until`, `note`, `by`; 201") {
            d, request in
            await d.silence(request)
        },
        Route(.DELETE, "/v1/silences/{id}", "end a silence now (`?by=NAME`); what still fires is notified once; 404 when none") { d, request in
            await d.unsilence(request)
        },
        Route(.GET, "/v1/report", "the HTML report of every plan (`index.html` of `report_dir`), `text/html`") { d, _ in
            try await d.reportResponse(plan: nil)
        },
        Route(.GET, "/v1/report/{plan}.html", "one plan's HTML report (`index`: every plan's)") { d, request in
            try await d.reportResponse(plan: request.parameters["plan"])
        },
        Route(.GET, "/metrics", "Prometheus text format 0.0.4") { d, _ in
            StatusResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: try await d.metricsText())
        },
    ]

    /// Answers one status socket request through the route table. Reads use the mirror's own
    /// reader connections, so they never wait for a sync.
    func route(_ request: StatusRequest) async -> StatusResponse {
        await Router(DaemonRunner.routes).respond(to: request, context: self)
    }

    /// `GET /v1/observations`: one page, rendered entry by entry.
    func observationsPage(_ request: StatusRequest) async throws -> StatusResponse {
        guard let indicator = request.query["indicator"], !indicator.isEmpty else {
            return .error(.badRequest, "missing ?indicator=CODE (e.g. /v1/observations?indicator=gdp)")
        }
        let withHistory = ["1", "true", "yes"].contains(request.query["history"] ?? "")
        var limit = DaemonRunner.observationsPage
        if let text = request.query["limit"] {
            guard let n = Int(text), (1...DaemonRunner.observationsMaxPage).contains(n) else {
                return .error(.badRequest, "limit must be a number from 1 to \(DaemonRunner.observationsMaxPage), not '\(DisplayText.excerpt(text))'")
            }
            limit = n
        }
        var after: HistoryCursor?
        if let text = request.query["after"] {
            guard let cursor = HistoryCursor(text: text) else {
                return .error(.badRequest, "after '\(DisplayText.excerpt(text))' is not a cursor: pass the `next` of the previous page as it is")
            }
            after = cursor
        }
        let page = try await mirror.history(indicator: indicator, after: after, limit: limit)
        // Rendered entry by entry into one text (the page's entries are not copied into a tree first).
        var body = "{\"indicator\":" + JSONValue.string(indicator).text + ",\"observations\":["
        for (i, entry) in page.entries.enumerated() {
            if i > 0 { body += "," }
            if !withHistory, case .object(let members) = entry.json {
                body += JSONValue.object(members.filter { $0.0 != "revisions" }).text
            } else {
                body += entry.json.text
            }
        }
        body += "],\"next\":" + (page.next.map { JSONValue.string($0.text).text } ?? "null") + "}"
        return .json(body)
    }

    /// `POST /v1/sync`: queues the feeds or joins the cycle that has them.
    func syncNow(_ request: StatusRequest) -> StatusResponse {
        var ids: Set<String>?
        if let feed = request.query["feed"] {
            guard state.current.config.feeds.contains(where: { $0.id == feed }) else {
                return .error(.notFound, "no feed '\(DisplayText.excerpt(feed))'")
            }
            ids = [feed]
        }
        let triggered = scheduler.trigger(ids)
        func list(_ ids: [String]) -> JSONValue { .array(ids.map { .string($0) }) }
        return .json(
            JSONValue.object([
                ("status", .string(triggered.started.isEmpty ? "joined" : "started")),
                ("feeds", list((ids.map(Array.init) ?? state.current.config.feeds.map(\.id)).sorted())),
                ("started", list(triggered.started)), ("queued", list(triggered.queued)), ("running", list(triggered.running)),
            ]).text, status: .accepted)
    }

    /// Answers `GET /v1/status` and `GET /v1/indicators` from the mirror's read cache on the
    /// socket's event loop itself, without a hop to another thread; nil when the answer needs
    /// the database (then `route` answers). Between syncs nearly every request is answered here.
    func cachedRoute(_ request: StatusRequest) -> StatusResponse? {
        guard request.method == .GET else { return nil }
        switch request.path {
        case "/v1/status":
            guard let counts = mirror.cachedStatusCounts() else { return nil }
            return .json(statusJSON(counts: counts).text)
        case "/v1/indicators":
            guard request.query["as_of"] == nil, case .success(let (plan, year)?) = indicatorsQuery(request),
                let texts = mirror.cachedVerdictTexts(plan: plan, year: year), let releases = mirror.cachedReleasesText(plan: plan)
            else { return nil }
            return verdictsResponse(texts, releases: releases)
        default:
            return nil
        }
    }

    /// The `plan` and `year` of an `/v1/indicators` request (nil without `plan`: every
    /// plan's verdicts, streamed), or the error answer.
    func indicatorsQuery(_ request: StatusRequest) -> Result<(plan: String, year: Int?)?, QueryError> {
        var year: Int?
        if let text = request.query["year"] {
            guard let y = Int(text), PlanFile.targetYears.contains(y) else {
                return .failure(QueryError(.error(.badRequest, "year '\(DisplayText.excerpt(text))' is not a year (e.g. ?year=2023)")))
            }
            year = y
        }
        guard let plan = request.query["plan"] else { return .success(nil) }
        let config = state.current.config
        if config.plan(plan) == nil {
            let some = config.plans.prefix(10).map(\.id).joined(separator: ", ")
            let more = config.plans.count > 10 ? " and \(config.plans.count - 10) more; `plansync status` lists them" : ""
            return .failure(QueryError(.error(.notFound, "no plan '\(DisplayText.excerpt(plan))' (plans: \(some)\(more))")))
        }
        return .success((plan, year))
    }

    /// Every plan's verdicts, streamed plan by plan (in plan id order, each plan's as one
    /// read): the first bytes leave at once and memory holds one plan's answer at a time,
    /// however many plans there are.
    func allVerdictsResponse(year: Int?) -> StatusResponse {
        let plans = state.current.config.plans.map(\.id).sorted()
        let mirror = self.mirror
        return .streamed(prefix: "{\"verdicts\":[") { writer in
            var first = true
            for plan in plans {
                let texts = try await mirror.verdictTexts(plan: plan, year: year, cached: false)
                guard !texts.isEmpty else { continue }
                try await writer.write((first ? "" : ",") + texts.joined(separator: ","))
                first = false
            }
            // Then each watched indicator's release status (the next period awaited, what is overdue).
            try await writer.write("],\"releases\":[" + (try await mirror.releasesText(plan: nil, cached: false)) + "]}\n")
        }
    }

    /// `GET /v1/indicators?as_of=TIME`: verdicts judged on the figures as the mirror knew
    /// them at TIME (one plan's with `plan`, else every plan's, streamed), nothing stored.
    func asOfResponse(_ request: StatusRequest, _ text: String) async throws -> StatusResponse {
        guard let time = Timestamp.rfc3339(text) else {
            return .error(
                .badRequest, "as_of '\(DisplayText.excerpt(text))' is not an RFC 3339 time (e.g. 2024-04-20T00:00:00Z or 2024-04-20T08:00:00+08:00)")
        }
        let query: (plan: String, year: Int?)?
        switch indicatorsQuery(request) {
        case .failure(let rejected): return rejected.response
        case .success(let q): query = q
        }
        let config = state.current.config
        let year = query?.year ?? request.query["year"].flatMap { Int($0) }
        let plans = query.map { q in config.plans.filter { $0.id == q.plan } } ?? config.plans.sorted { $0.id < $1.id }
        let mirror = self.mirror
        let prefix = "{\"as_of\":" + JSONValue.string(Timestamp.string(time)).text + ",\"verdicts\":["
        return .streamed(prefix: prefix) { writer in
            var first = true
            for plan in plans {
                var priorities: [String: Int] = [:]
                for feed in config.feeds where feed.plan == plan.id { priorities[feed.id] = feed.priority }
                let verdicts = try await mirror.verdicts(plan: plan, priorities: priorities, asOf: time, years: year.map { [$0] })
                guard !verdicts.isEmpty else { continue }
                try await writer.write((first ? "" : ",") + verdicts.map(\.jsonText).joined(separator: ","))
                first = false
            }
            try await writer.write("]}\n")
        }
    }

    func verdictsResponse(_ texts: [String], releases: String) -> StatusResponse {
        .json("{\"verdicts\":[" + texts.joined(separator: ",") + "],\"releases\":[" + releases + "]}")
    }

    func statusJSON() async throws -> JSONValue {
        statusJSON(counts: try await mirror.statusCounts())
    }

    func statusJSON(counts: Mirror.StatusCounts) -> JSONValue {
        let current = state.current
        let schedule = scheduler.snapshot
        let nextDue = schedule.values.compactMap(\.nextDue).min()
        let failing = counts.failing
        return .object([
            ("version", .string(PlansyncVersion.string)), ("pid", .int(Int(getpid()))),
            ("started_at", .string(Timestamp.string(startedAt))),
            ("uptime_seconds", .int(Int(Date().timeIntervalSince(startedAt)))),
            ("config", .string(current.config.path)), ("database", .string(current.config.database)),
            ("socket", .string(current.config.socket)), ("alert_log", .string(current.config.alertLog)),
            ("plans", .array(current.config.plans.map { .string($0.id) })),
            (
                "feeds",
                .object([
                    ("total", .int(current.config.feeds.count)), ("ok", .int(counts.feeds - failing)),
                    ("failing", .int(failing)), ("running", .int(schedule.values.filter(\.running).count)),
                ])
            ),
            ("last_sync", current.lastSyncAt.map { .string(Timestamp.string($0)) } ?? .null),
            ("next_sync", nextDue.map { .string(Timestamp.string($0)) } ?? .null),
            ("alerts_firing", .object([("critical", .int(counts.critical)), ("warning", .int(counts.warning))])),
            ("alert_events", .int(counts.events)),
        ])
    }

    func feedsJSON() async throws -> JSONValue {
        let schedule = scheduler.snapshot
        let feeds = try await mirror.feedStatuses()
        return .object([
            (
                "feeds",
                .array(
                    feeds.map { f in
                        .object([
                            ("id", .string(f.id)), ("plan", .string(f.plan)), ("url", .string(f.url)), ("format", .string(f.format)),
                            ("priority", .int(f.priority)), ("active", .bool(f.active)),
                            ("last_outcome", .optional(f.lastOutcome)), ("http_status", f.lastHTTPStatus.map(JSONValue.int) ?? .null),
                            ("bytes", f.lastBytes.map(JSONValue.int) ?? .null),
                            ("duration_ms", f.lastDurationMs.map { .number(DecimalText.fixed($0, digits: 1)) } ?? .null),
                            ("last_fetch", .optional(f.lastFetchAt)), ("last_success", .optional(f.lastSuccessAt)),
                            ("etag", .optional(f.etag)), ("last_modified", .optional(f.lastModified)),
                            ("consecutive_failures", .int(f.consecutiveFailures)), ("last_error", .optional(f.lastError)),
                            ("running", .bool(schedule[f.id]?.running ?? false)),
                            ("next_due", schedule[f.id]?.nextDue.map { .string(Timestamp.string($0)) } ?? .null),
                        ])
                    })
            )
        ])
    }

    /// Prometheus text format 0.0.4.
    func metricsText() async throws -> String {
        let metrics = try await mirror.metrics()
        let feeds = try await mirror.feedStatuses()
        // Gathered as bytes (tens of thousands of lines at 2,800 plans: appending to a
        // String cost a fifth of the answer).
        var out: [UInt8] = []
        out.reserveCapacity(feeds.count * 400 + metrics.verdictsByPlanStatus.count * 400 + 4096)
        func put(_ text: String) {
            var text = text
            text.withUTF8 { out.append(contentsOf: $0) }
        }
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            put("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n")
            for (labels, value) in samples {
                put(name)
                if !labels.isEmpty { out.append(UInt8(ascii: "{")); put(labels); out.append(UInt8(ascii: "}")) }
                out.append(UInt8(ascii: " ")); put(value); out.append(UInt8(ascii: "\n"))
            }
        }
        func label(_ pairs: [(String, String)]) -> String {
            var text = ""
            for (i, (name, value)) in pairs.enumerated() {
                if i > 0 { text += "," }
                text += name; text += "=\""; text += escape(value); text += "\""
            }
            return text
        }
        /// A label value in the exposition format's escaping; ids need none, so they are
        /// checked first (escaping every value cost most of /metrics at 2,800 plans).
        func escape(_ value: String) -> String {
            guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
                return value
            }
            var out = ""
            for character in value.unicodeScalars {
                switch character {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(character)
                }
            }
            return out
        }
        family(
            "plansync_build_info", "gauge", "Version of the running plansync.",
            [(label([("version", PlansyncVersion.string)]), "1")])
        family(
            "plansync_start_time_seconds", "gauge", "Start time of the daemon, seconds since the epoch.",
            [("", DecimalText.fixed(startedAt.timeIntervalSince1970, digits: 0))])
        let daemon = state.current
        family("plansync_sync_cycles_total", "counter", "Sync cycles run since the daemon started.", [("", String(daemon.cycles))])
        family(
            "plansync_sync_cycle_duration_seconds", "gauge",
            "Wall time of the last sync cycle: fetch, reconcile, judge and alert log.",
            daemon.lastCycleSeconds.map { [("", DecimalText.fixed($0, digits: 6))] } ?? [])
        family(
            "plansync_sync_cycle_phase_seconds", "gauge",
            "Wall time of each phase of the last completed sync cycle (prepare, fetch, flush, judge, alert_log).",
            daemon.lastCyclePhases.map { (label([("phase", $0.phase)]), DecimalText.fixed($0.seconds, digits: 6)) })
        family(
            "plansync_sync_cycle_plans_judged", "gauge",
            "Plans judged again in the last completed sync cycle (the others' inputs had not changed).",
            daemon.lastCycleJudged.map { [("", String($0))] } ?? [])
        var fetches: [(String, String)] = []
        for f in feeds {
            for (outcome, n) in f.fetchCounts.sorted(by: { $0.key < $1.key }) {
                fetches.append((label([("feed", f.id), ("outcome", outcome)]), String(n)))
            }
        }
        family("plansync_feed_fetches_total", "counter", "Fetch cycles per feed by outcome.", fetches)
        family(
            "plansync_feed_last_success_timestamp_seconds", "gauge", "Time of the feed's last successful fetch.",
            feeds.compactMap { f in
                f.lastSuccessAt.flatMap(Timestamp.date).map { (label([("feed", f.id)]), DecimalText.fixed($0.timeIntervalSince1970, digits: 0)) }
            })
        family(
            "plansync_feed_fetch_duration_seconds", "gauge", "Duration of the feed's last fetch.",
            feeds.compactMap { f in f.lastDurationMs.map { (label([("feed", f.id)]), DecimalText.fixed($0 / 1000, digits: 3)) } })
        family(
            "plansync_feed_consecutive_failures", "gauge", "Failed fetch cycles in a row.",
            feeds.map { (label([("feed", $0.id)]), String($0.consecutiveFailures)) })
        family(
            "plansync_observations", "gauge", "Observations in the mirror per plan.",
            metrics.observationsByPlan.sorted { $0.key < $1.key }.map { (label([("plan", $0.key)]), String($0.value)) })
        family("plansync_revisions", "gauge", "Revised values kept in the mirror.", [("", String(metrics.revisions))])
        var verdicts: [(String, String)] = []
        for plan in state.current.config.plans {
            let planLabel = "plan=\"\(escape(plan.id))\",status=\""
            let counts = metrics.verdictsByPlanStatus[plan.id]
            for status in VerdictStatus.allCases {
                verdicts.append((planLabel + status.rawValue + "\"", String(counts?[status.rawValue] ?? 0)))
            }
        }
        family("plansync_verdicts", "gauge", "Verdicts per plan and status.", verdicts)
        family(
            "plansync_alerts_firing", "gauge", "Alerts firing now by severity.",
            ["critical", "warning"].map { (label([("severity", $0)]), String(metrics.firingBySeverity[$0] ?? 0)) })
        family(
            "plansync_alerts_acknowledged", "gauge", "Firing alerts acknowledged (not notified again) by severity.",
            ["critical", "warning"].map { (label([("severity", $0)]), String(metrics.acknowledgedBySeverity[$0] ?? 0)) })
        family("plansync_silences_active", "gauge", "Silences in force.", [("", String(metrics.silencesActive))])
        family("plansync_alert_events", "gauge", "Sequence number of the last alert event.", [("", String(metrics.alertEvents))])
        let sinks = sinkWorkers.current.values.map { $0.status.current }.sorted { $0.id < $1.id }
        if !sinks.isEmpty {
            let now = Date()
            family(
                "plansync_sink_delivered_total", "counter", "Events delivered per notification sink since the daemon started.",
                sinks.map { (label([("sink", $0.id)]), String($0.delivered)) })
            family(
                "plansync_sink_failed_total", "counter", "Events refused for good or given up per notification sink since the daemon started.",
                sinks.map { (label([("sink", $0.id)]), String($0.failed)) })
            family(
                "plansync_sink_lag_events", "gauge", "Events recorded and not yet delivered (or passed over) per notification sink.",
                sinks.map { (label([("sink", $0.id)]), String(max(0, metrics.alertEvents - $0.cursor))) })
            family(
                "plansync_sink_lag_seconds", "gauge", "Age of the oldest event a notification sink is still trying to deliver.",
                sinks.map { (label([("sink", $0.id)]), DecimalText.fixed($0.waitingSince.map { max(0, now.timeIntervalSince($0)) } ?? 0, digits: 3)) })
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `/v1/sinks`: every configured notification sink's delivery state.
    func sinksJSON() async throws -> JSONValue {
        let last = try await mirror.lastEventSeq()
        let now = Date()
        let sinks = sinkWorkers.current.values.map { $0.status.current }.sorted { $0.id < $1.id }
        return .object([("last_event_seq", .int(last)), ("sinks", .array(sinks.map { $0.json(lastSeq: last, now: now) }))])
    }
}
