import Foundation
import Mirror
import NIOHTTP1
import PlanCore
import Support

/// A JSON request body read field by field: unknown fields and wrong types are refused.
struct BodyFields {
    let members: [(String, JSONValue)]

    /// Parses `body` as a JSON object with only `allowed` fields; the 422 answer otherwise.
    static func parse(_ body: [UInt8], allowed: [String], example: String) -> Result<BodyFields, QueryError> {
        guard !body.isEmpty else { return .failure(unprocessable("the body is empty: send a JSON object such as \(example)")) }
        guard case .object(let members)? = try? JSONParser.parse(body) else {
            return .failure(unprocessable("the body is not a JSON object; send one such as \(example)"))
        }
        for (name, _) in members where !allowed.contains(name) {
            return .failure(unprocessable("unknown field '\(DisplayText.excerpt(name))' (allowed: \(allowed.joined(separator: ", ")))"))
        }
        return .success(BodyFields(members: members))
    }

    static func unprocessable(_ message: String) -> QueryError { QueryError(.error(.unprocessableEntity, message)) }

    func value(_ name: String) -> JSONValue? { members.last { $0.0 == name }?.1 }

    /// A string field (nil when absent or null).
    func string(_ name: String) throws(QueryError) -> String? {
        switch value(name) {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw BodyFields.unprocessable("\(name) must be a string")
        }
    }

    func bool(_ name: String) throws(QueryError) -> Bool {
        switch value(name) {
        case nil, .null?: return false
        case .bool(let b)?: return b
        default: throw BodyFields.unprocessable("\(name) must be true or false")
        }
    }

    /// A list of strings (a single string is taken as a list of one).
    func strings(_ name: String) throws(QueryError) -> [String] {
        switch value(name) {
        case nil, .null?: return []
        case .string(let s)?: return [s]
        case .array(let values)?:
            var result: [String] = []
            for value in values {
                guard case .string(let s) = value else { throw BodyFields.unprocessable("\(name) must be a list of strings") }
                result.append(s)
            }
            return result
        default: throw BodyFields.unprocessable("\(name) must be a list of strings")
        }
    }

    /// An RFC 3339 time field.
    func time(_ name: String) throws(QueryError) -> Date? {
        guard let text = try string(name) else { return nil }
        guard let date = Timestamp.rfc3339(text) else {
            throw BodyFields.unprocessable(
                "\(name) '\(DisplayText.excerpt(text))' is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z or 2027-01-31T08:00:00+08:00)")
        }
        return date
    }
}

extension DaemonRunner {
    static let ackExample = #"{"key": "<plan>/<indicator>/<year>/target_missed", "note": "情况说明 …", "until": "2027-01-31T00:00:00Z"}"#
    static let silenceExample = #"{"plans": ["<plan>"], "until": "2027-01-31T00:00:00Z", "note": "plan under revision"}"#

    /// `GET /v1/acks`: acknowledgements in force; `?history=1`: every one, ended ones too.
    func acksResponse(_ request: StatusRequest) async throws -> StatusResponse {
        let acks = try await mirror.acksJSON(history: DaemonRunner.isYes(request.query["history"]))
        return .json(JSONValue.object([("acks", .array(acks))]).text)
    }

    /// `GET /v1/silences`: silences in force; `?history=1`: every one, ended ones too.
    func silencesResponse(_ request: StatusRequest) async throws -> StatusResponse {
        let silences = try await mirror.silencesJSON(history: DaemonRunner.isYes(request.query["history"]))
        return .json(JSONValue.object([("silences", .array(silences))]).text)
    }

    static func isYes(_ text: String?) -> Bool { ["1", "true", "yes"].contains(text ?? "") }

    /// `POST /v1/acks`.
    func acknowledge(_ request: StatusRequest) async -> StatusResponse {
        let fields: BodyFields
        switch BodyFields.parse(request.body, allowed: ["key", "note", "by", "until", "until_next_release"], example: DaemonRunner.ackExample) {
        case .failure(let refused): return refused.response
        case .success(let parsed): fields = parsed
        }
        do throws(QueryError) {
            guard let key = try fields.string("key"), !key.isEmpty else {
                throw BodyFields.unprocessable("key is missing (the alert's key, from GET /v1/alerts)")
            }
            let note = try fields.string("note") ?? ""
            let by = try fields.string("by") ?? request.peerUser ?? ""
            let until = try fields.time("until")
            let nextRelease = try fields.bool("until_next_release")
            return await applied(
                await mirror.acknowledge(key: key, note: note, by: by, until: until, untilNextRelease: nextRelease), created: true, peer: request.peerUser)
        } catch {
            return error.response
        }
    }

    /// `DELETE /v1/acks/{key}`.
    func unacknowledge(_ request: StatusRequest) async -> StatusResponse {
        let key = request.parameters["key"] ?? ""
        let by = request.query["by"].flatMap { $0.isEmpty ? nil : $0 } ?? request.peerUser ?? ""
        return await applied(await mirror.unacknowledge(key: key, by: by), created: false, peer: request.peerUser)
    }

    /// `POST /v1/silences`.
    func silence(_ request: StatusRequest) async -> StatusResponse {
        let fields: BodyFields
        switch BodyFields.parse(
            request.body, allowed: ["plans", "indicators", "alerts", "feeds", "until", "note", "by"], example: DaemonRunner.silenceExample)
        {
        case .failure(let refused): return refused.response
        case .success(let parsed): fields = parsed
        }
        do throws(QueryError) {
            guard let until = try fields.time("until") else { throw BodyFields.unprocessable("until is missing: a silence must end (RFC 3339 time)") }
            let silence = SilenceRequest(
                plans: try fields.strings("plans"), indicators: try fields.strings("indicators"), alerts: try fields.strings("alerts"),
                feeds: try fields.strings("feeds"), until: until, note: try fields.string("note") ?? "",
                by: try fields.string("by") ?? request.peerUser ?? "")
            return await applied(await mirror.silence(silence), created: true, peer: request.peerUser)
        } catch {
            return error.response
        }
    }

    /// `DELETE /v1/silences/{id}`.
    func unsilence(_ request: StatusRequest) async -> StatusResponse {
        let text = request.parameters["id"] ?? ""
        guard let id = Int(text), id > 0 else {
            return .error(.unprocessableEntity, "silence id '\(DisplayText.excerpt(text))' is not a number (see GET /v1/silences)")
        }
        let by = request.query["by"].flatMap { $0.isEmpty ? nil : $0 } ?? request.peerUser ?? ""
        return await applied(await mirror.unsilence(id: id, by: by), created: false, peer: request.peerUser)
    }

    /// The answer to a change, after its events are in the alert log and the sinks told.
    /// `peer` (the socket peer's user) is logged with the change: `by` may name someone else.
    private func applied(_ result: Result<AckChange, AckFailure>, created: Bool, peer: String?) async -> StatusResponse {
        await afterEventsRecorded(plans: (try? result.get().plans) ?? [])
        switch result {
        case .success(let change):
            logger.notice("acknowledgements changed", metadata: ["change": "\(change.json.text)", "peer.user": "\(peer ?? "-")"])
            return .json(change.json.text, status: created ? .created : .ok)
        case .failure(.invalid(let message)): return .error(.unprocessableEntity, message)
        case .failure(.notFound(let message)): return .error(.notFound, message)
        case .failure(.database(let error)): return .error(.serviceUnavailable, error.description)
        }
    }

    /// Writes new events to the alert log, wakes the sinks, rewrites the reports of `plans` and
    /// sets the timer for the next acknowledgement or silence to end.
    func afterEventsRecorded(plans: [String]) async {
        if let error = await state.current.syncer.deliverEvents() {
            logger.error("alert log not written after an acknowledgement", metadata: ["error": "\(error)"])
        }
        for worker in sinkWorkers.current.values { worker.ring() }
        if !plans.isEmpty { refreshReports(Set(plans)) }
        await armDeadlines()
    }

    /// Sets a timer for the next acknowledgement or silence that ends by its time; when it
    /// fires, the mirror ends what is due and notifies what still fires. At most a day ahead.
    func armDeadlines() async {
        guard let next = try? await mirror.nextDeadline() else { return DaemonRunner.arm(deadlineTimer, after: nil) }
        DaemonRunner.arm(deadlineTimer, after: min(86_400, max(0.05, next.timeIntervalSinceNow + 0.01))) { [weak self] in
            guard let self else { return }
            Task {
                do {
                    let change = try await self.mirror.applyDeadlines()
                    if !change.eventSeqs.isEmpty {
                        self.logger.info("acknowledgements or silences ended", metadata: ["events": "\(change.eventSeqs.count)"])
                    }
                    await self.afterEventsRecorded(plans: change.plans)
                } catch {
                    self.logger.error("cannot end acknowledgements or silences due: \(error)")
                }
            }
        }
    }
}
