import PlanCore
import Foundation
import Testing
import TestSupport
@testable import Fetch
import Support

/// A request with short limits, so every failure case ends in seconds.
func request(_ url: String, retries: Int = 0, maxBytes: Int = 1 << 20, timeout: Double = 10) -> FetchRequest {
    var r = FetchRequest(id: "test", url: url)
    r.retries = retries
    r.maxBytes = maxBytes
    r.timeout = timeout
    r.connectTimeout = 3
    r.lowSpeedLimit = 100
    r.lowSpeedTime = 2
    r.retryBaseDelay = 0.05
    r.retryMaxDelay = 3
    r.userAgent = "plansync/test"
    return r
}

/// A CSV body big enough for nginx to gzip.
let bigCSV =
    "indicator,period,measure,value\n" + (1...400).map { "gdp,\(1900 + $0 % 100)-\(String(format: "%02d", $0 % 12 + 1)),level,\($0).5" }.joined(separator: "\n")
    + "\n"

@Suite(.serialized) struct NginxFetchTests {
    @Test func anUnchangedFeedFetchedTwiceCostsOne200AndOne304() async throws {
        let nginx = try NginxServer()
        try nginx.write("feed.csv", bigCSV)
        let engine = FetchEngine(maxConcurrent: 2)
        let first = await engine.fetch(request(nginx.url("/feed.csv")))
        #expect(first.outcome == .ok, "\(first.message)")
        #expect(first.httpStatus == 200)
        #expect(first.body == Array(bigCSV.utf8))
        #expect(first.sha256 == SHA256.hex(Array(bigCSV.utf8)))
        let etag = try #require(first.etag)
        #expect(first.lastModified != nil)
        #expect(first.contentType?.hasPrefix("text/csv") == true)
        var again = request(nginx.url("/feed.csv"))
        again.etag = etag
        again.lastModified = first.lastModified
        let second = await engine.fetch(again)
        #expect(second.outcome == .notModified, "\(second.message)")
        #expect(second.httpStatus == 304)
        #expect(second.body.isEmpty)
        #expect(second.etag == etag)
        let statuses = nginx.accessLog(atLeast: 2).map { $0.components(separatedBy: "\" ")[1].prefix(3) }
        #expect(statuses == ["200", "304"])
    }

    @Test func gzipBodiesAreDecodedAndCountedDecoded() async throws {
        let nginx = try NginxServer()
        try nginx.write("feed.csv", bigCSV)
        let result = await FetchEngine().fetch(request(nginx.url("/feed.csv")))
        #expect(result.outcome == .ok)
        #expect(result.body == Array(bigCSV.utf8))
        #expect(result.bytes == bigCSV.utf8.count)
        // nginx logged far fewer bytes on the wire than the decoded body: it was gzipped.
        let sent = Int(nginx.accessLog(atLeast: 1).last?.components(separatedBy: "\" ")[1].split(separator: " ")[1] ?? "") ?? 0
        #expect(sent > 0 && sent < bigCSV.utf8.count / 2)
    }

    @Test func redirectsAreFollowedAndTheEffectiveURLReported() async throws {
        let nginx = try NginxServer()
        try nginx.write("feed.csv", bigCSV)
        let result = await FetchEngine().fetch(request(nginx.url("/moved.csv")))
        #expect(result.outcome == .ok)
        #expect(result.effectiveURL == nginx.url("/feed.csv"))
    }

    @Test func aMissingFileIsAPermanentHTTPStatusFailure() async throws {
        let nginx = try NginxServer()
        let result = await FetchEngine().fetch(request(nginx.url("/nope.csv"), retries: 3))
        #expect(result.outcome == .httpStatus)
        #expect(result.httpStatus == 404)
        #expect(result.attempts == 1)
        #expect(result.message.contains("HTTP 404"))
    }

    @Test func twoHundredFeedsCompleteWithBoundedConcurrencyAndNoThreadPerFeed() async throws {
        let nginx = try NginxServer()
        for i in 0..<200 { try nginx.write("f\(i).csv", "indicator,period,measure,value\ngdp,2023,growth,\(i).0\n") }
        let engine = FetchEngine(maxConcurrent: 8)
        let threadsBefore = threadCount()
        let requests = (0..<200).map { request(nginx.url("/f\($0).csv")) }
        let results = await Task.detached { engine.fetchAll(requests) }.value
        #expect(results.count == 200)
        #expect(results.allSatisfy { $0.outcome == .ok })
        #expect(results[137].body == Array("indicator,period,measure,value\ngdp,2023,growth,137.0\n".utf8))
        #expect(engine.peakConcurrency <= 8)
        #expect(engine.peakConcurrency >= 2)
        #expect(threadCount() - threadsBefore < 100)  // one thread per feed would add 200 (other suites run alongside)
    }
}

@Suite struct FileFetchTests {
    /// Bodies of 1 MiB and more are hashed off the engine's queue, on a thread of their own at
    /// the requested nice value, while the queue goes on serving other transfers.
    @Test func largeBodiesAreHashedOffTheEngineQueueAndStillExactly() async throws {
        let dir = NSTemporaryDirectory() + "plansync-fetch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/big.bin"))
        try Data("small".utf8).write(to: URL(fileURLWithPath: dir + "/small.bin"))
        let engine = FetchEngine()
        var big = request(URL(fileURLWithPath: dir + "/big.bin").absoluteString, maxBytes: 8 << 20)
        big.largeBodyNiceness = 19
        async let large = engine.fetch(big)
        let small = await engine.fetch(request(URL(fileURLWithPath: dir + "/small.bin").absoluteString))
        let result = await large
        #expect(result.outcome == .ok)
        #expect(result.body.count == 3 << 20)
        var hasher = SHA256()
        hasher.update(bytes)
        #expect(result.sha256 == hasher.finalizeHex())
        var tiny = SHA256()
        tiny.update(Array("small".utf8))
        #expect(small.sha256 == tiny.finalizeHex())
    }

    @Test func fileURLsUseModificationTimeAsTheirValidator() async throws {
        let dir = NSTemporaryDirectory() + "plansync-fetch-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/feed.csv"
        try bigCSV.write(toFile: path, atomically: true, encoding: .utf8)
        let url = URL(fileURLWithPath: path).absoluteString
        let engine = FetchEngine()
        let first = await engine.fetch(request(url))
        #expect(first.outcome == .ok, "\(first.message)")
        #expect(first.body == Array(bigCSV.utf8))
        #expect(first.httpStatus == nil)
        var again = request(url)
        again.etag = first.etag
        let second = await engine.fetch(again)
        #expect(second.outcome == .notModified)
        // Touch the file: it is fetched again.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        let third = await engine.fetch(again)
        #expect(third.outcome == .ok)
        #expect(third.etag != first.etag)
        let missing = await engine.fetch(request(URL(fileURLWithPath: dir + "/missing.csv").absoluteString))
        #expect(missing.outcome == .protocolError)
        #expect(missing.message.contains("No such file"))
    }
}

@Suite struct FaultFetchTests {
    /// 100 MiB of zeros, gzipped (about 650 KiB).
    static let server = try! FaultServer(bomb: gzipBombOfZeros(size: 100 << 20))

    let engine = FetchEngine(maxConcurrent: 4)
    var server: FaultServer { Self.server }

    @Test func serverErrorsAreRetriedThenReported() async {
        let result = await engine.fetch(request(server.url("/status/500?a"), retries: 2))
        #expect(result.outcome == .httpStatus)
        #expect(result.httpStatus == 500)
        #expect(result.attempts == 3)
        #expect(server.requests("/status/500?a") == 3)
    }

    @Test func clientErrorsAreNotRetried() async {
        let result = await engine.fetch(request(server.url("/status/403"), retries: 3))
        #expect(result.outcome == .httpStatus && result.httpStatus == 403 && result.attempts == 1)
    }

    @Test func aTransientFailureThatRecoversSucceeds() async {
        let result = await engine.fetch(request(server.url("/flaky/2"), retries: 3))
        #expect(result.outcome == .ok)
        #expect(result.attempts == 3)
        #expect(result.body == Array(FaultServer.csv.utf8))
    }

    @Test func retryAfterInSecondsIsHonoured() async {
        let result = await engine.fetch(request(server.url("/retry-after/1"), retries: 1))
        #expect(result.outcome == .httpStatus && result.httpStatus == 503)
        #expect(result.attempts == 2)
        #expect(result.elapsed >= 0.9)
    }

    @Test func retryAfterAsAnHTTPDateIsHonoured() async {
        let result = await engine.fetch(request(server.url("/retry-after-date"), retries: 1))
        #expect(result.attempts == 2)
        #expect(result.elapsed >= 0.5)
    }

    @Test func retryAfterIsCapped() async {
        var r = request(server.url("/retry-after/3600"), retries: 1)
        r.retryMaxDelay = 0.2
        let result = await engine.fetch(r)
        #expect(result.attempts == 2)
        #expect(result.elapsed < 30)
    }

    @Test func tooManyRequestsIsRetried() async {
        let result = await engine.fetch(request(server.url("/too-many"), retries: 2))
        #expect(result.httpStatus == 429 && result.attempts == 3)
    }

    @Test func aBodyShorterThanItsContentLengthIsTruncated() async {
        let result = await engine.fetch(request(server.url("/truncated")))
        #expect(result.outcome == .truncated, "\(result.message)")
        #expect(result.body.isEmpty)
    }

    @Test func anEndlessBodyStopsAtMaxBytes() async {
        let before = peakRSS()
        let result = await engine.fetch(request(server.url("/endless"), maxBytes: 1 << 20))
        #expect(result.outcome == .tooLarge, "\(result.message)")
        #expect(result.bytes <= 1 << 20)
        #expect(result.message.contains("max_bytes"))
        #expect(peakRSS() - before < 64 << 20)
    }

    @Test func aGzipBombStopsAtMaxBytesOfDecodedBody() async {
        let before = peakRSS()
        let result = await engine.fetch(request(server.url("/bomb"), maxBytes: 1 << 20))
        #expect(result.outcome == .tooLarge, "\(result.message)")
        #expect(result.bytes <= 1 << 20)
        #expect(peakRSS() - before < 64 << 20)
    }

    @Test func aTricklingServerIsATimeoutNotAHang() async {
        let result = await engine.fetch(request(server.url("/trickle"), timeout: 20))
        #expect(result.outcome == .timeout, "\(result.message)")
        #expect(result.elapsed < 15)  // measured by the engine, not including test-thread scheduling
    }

    @Test func theTotalTimeoutStopsASlowServer() async {
        let result = await engine.fetch(request(server.url("/slow-headers"), timeout: 1))
        #expect(result.outcome == .timeout)
        #expect(result.elapsed < 6)
    }

    @Test func aRedirectLoopStopsAfterFiveRedirects() async {
        let result = await engine.fetch(request(server.url("/loop")))
        #expect(result.outcome == .redirects)
        #expect(server.requests("/loop") + (1...6).reduce(0) { $0 + server.requests("/loop/\($1)") } <= 7)
    }

    @Test func anHTMLErrorPageWithStatus200IsFetchedForTheParserToReject() async {
        let result = await engine.fetch(request(server.url("/html")))
        #expect(result.outcome == .ok)
        #expect(result.contentType?.hasPrefix("text/html") == true)
    }

    @Test func aRefusedConnectionIsAConnectFailure() async throws {
        let port = try freeTCPPort()
        let result = await engine.fetch(request("http://127.0.0.1:\(port)/feed.csv", retries: 1))
        #expect(result.outcome == .connect, "\(result.message)")
        #expect(result.attempts == 2)
    }

    @Test func ftpIsRefusedBeforeAnyConnection() async {
        let result = await engine.fetch(request("ftp://127.0.0.1:\(server.port)/data.csv", retries: 3))
        #expect(result.outcome == .refusedScheme)
        #expect(result.attempts == 1)
        #expect(server.requests("/data.csv") == 0)
    }

    @Test(arguments: ["/to-file", "/to-ftp"])
    func redirectsToOtherSchemesAreRefused(path: String) async {
        let result = await engine.fetch(request(server.url(path)))
        #expect(result.outcome == .refusedScheme, "\(result.message)")
        #expect(result.body.isEmpty)
    }

    @Test func aNonHTTPReplyIsAProtocolError() async {
        let result = await engine.fetch(request(server.url("/garbage")))
        #expect(result.outcome == .protocolError, "\(result.message)")
    }

    @Test func serverValidatorsGiveA304() async {
        let first = await engine.fetch(request(server.url("/validators")))
        #expect(first.etag == "\"v1\"")
        var again = request(server.url("/validators"))
        again.etag = first.etag
        let second = await engine.fetch(again)
        #expect(second.outcome == .notModified && second.httpStatus == 304)
    }

    @Test func aServerWithoutValidatorsSendingTheSameBytesHasTheSameHash() async {
        let a = await engine.fetch(request(server.url("/ok")))
        let b = await engine.fetch(request(server.url("/ok")))
        #expect(a.sha256 != nil && a.sha256 == b.sha256)
        #expect(a.etag == nil)
    }

    @Test func credentialsNeverAppearInResults() async {
        let result = await engine.fetch(request("http://bot:hunter2@127.0.0.1:\(server.port)/status/401?token=s3cret"))
        #expect(result.httpStatus == 401)
        for text in [result.message, result.effectiveURL] {
            #expect(!text.contains("hunter2") && !text.contains("s3cret"))
        }
        #expect(result.effectiveURL.contains("***@"))
    }
}

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func matchesTheStandardVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    /// Random inputs at the block-boundary lengths agree with an independent implementation
    /// (coreutils' `sha256sum`).
    @Test func agreesWithSha256sum() throws {
        var generator = SystemRandomNumberGenerator()
        let dir = NSTemporaryDirectory() + "plansync-sha-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for count in [0, 1, 55, 56, 63, 64, 65, 1000, (16 << 10) - 1, 16 << 10, (1 << 20) + 7] {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/input"))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [dir + "/input"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(SHA256.hex(bytes) == String(text.prefix(64)), "\(count) bytes")
        }
    }

    @Test func incrementalUpdatesEqualOneShot() {
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        var hash = SHA256()
        for chunk in stride(from: 0, to: bytes.count, by: 37) { hash.update(Array(bytes[chunk..<min(chunk + 37, bytes.count)])) }
        #expect(hash.finalizeHex() == SHA256.hex(bytes))
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct GzipBombTests {
    @Test func theHandMadeBombInflatesWithGzip() throws {
        let bomb = gzipBombOfZeros(size: 1_000_003)
        let path = NSTemporaryDirectory() + "bomb-\(UUID().uuidString).gz"
        try Data(bomb).write(to: URL(fileURLWithPath: path))
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".count")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // gzip checks the (zero) CRC at the end, so count bytes and ignore its complaint.
        process.arguments = ["-c", "gzip -dc < \(path) 2>/dev/null | wc -c > \(path).count"]
        try process.run()
        process.waitUntilExit()
        let count = try String(contentsOfFile: path + ".count", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(count == "1000003")
        #expect(bomb.count < 10_000)
    }
}

/// The validators sent for file: feeds carry the file's time as an IMF-fixdate.
@Suite struct HTTPDateTests {
    @Test(arguments: [0.0, 784_111_777, 951_782_400, 1_700_000_000.75, 4_102_444_799])
    func formatsAsImfFixdateAndReadsBack(_ seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        let reference = DateFormatter()
        reference.locale = Locale(identifier: "en_US_POSIX")
        reference.timeZone = TimeZone(identifier: "GMT")
        reference.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(HTTPDate.format(date) == reference.string(from: date))
        #expect(HTTPDate.parse(HTTPDate.format(date)) == Date(timeIntervalSince1970: seconds.rounded(.down)))
    }

    @Test func theRfcExample() {
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}

/// The daemon's parsers for mid-sized bodies run every job, at the lowered priority.
@Suite struct LowPriorityPoolTests {
    @Test func runsEveryJobOnThreadsAtTheGivenNiceValue() {
        let pool = LowPriorityPool(threads: 2, niceness: 17)
        let done = DispatchSemaphore(value: 0)
        let seen = Locked<[Int32]>([])
        // Few jobs and a long wait: at nice 17 the pool gets little CPU while other tests run.
        for _ in 0..<20 {
            pool.async {
                errno = 0
                let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
                seen.withLock { $0.append(nice) }
                done.signal()
            }
        }
        for _ in 0..<20 { #expect(done.wait(timeout: .now() + 120) == .success) }
        #expect(seen.current.count == 20)
        #expect(Set(seen.current) == [17])
    }
}

/// Judging's pipeline: results in order, workers a bounded number of items ahead, and an
/// item a stopped worker left undone handed back to the consumer.
@Suite struct OrderedPipelineTests {
    @Test func deliversEveryResultInOrderWithinTheWindow() {
        let pipeline = OrderedPipeline<Int>(count: 500, window: 8)
        let taken = Locked(0)
        let farthestAhead = Locked(0)
        pipeline.start(workers: 3) { pipeline in
            while let index = pipeline.claim() {
                let lead = index - taken.current
                farthestAhead.withLock { $0 = max($0, lead) }
                pipeline.deliver(index, index * index)
            }
        }
        var results: [Int] = []
        for index in 0..<500 {
            results.append(pipeline.take(index) ?? -1)
            taken.withLock { $0 = index + 1 }
        }
        pipeline.finish()
        #expect(results == (0..<500).map { $0 * $0 })
        // A worker claims item i only while i < taken + window (taken read late here: +1 slack).
        #expect(farthestAhead.current <= 8)
    }

    /// Workers run on threads of their own (named, at the given nice value), not on
    /// Dispatch's global queues, whose few threads Swift's tasks share on Linux: workers busy
    /// for seconds there held back the status socket's answers (up to 8 s at 2,800 plans).
    @Test func workersRunOnNamedThreadsOfTheirOwn() {
        let pipeline = OrderedPipeline<String>(count: 4, window: 4)
        pipeline.start(workers: 2, niceness: 5, name: "test.pipeline") { pipeline in
            while let index = pipeline.claim() {
                let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
                let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
                pipeline.deliver(index, "\(name.trimmingCharacters(in: .whitespacesAndNewlines)) \(nice)")
            }
        }
        let seen = (0..<4).map { pipeline.take($0) }
        pipeline.finish()
        #expect(seen == Array(repeating: "test.pipeline 5", count: 4))
    }

    @Test func anItemAStoppedWorkerLeftIsTheConsumers() {
        let pipeline = OrderedPipeline<String>(count: 10, window: 4)
        pipeline.start(workers: 1) { pipeline in
            // Delivers 0–2, claims 3 and gives up (as a worker whose snapshot is wrong would).
            while let index = pipeline.claim() {
                if index == 3 { return }
                pipeline.deliver(index, "w\(index)")
            }
        }
        var results: [String] = []
        for index in 0..<10 { results.append(pipeline.take(index) ?? "c\(index)") }
        pipeline.finish()
        #expect(results == ["w0", "w1", "w2"] + (3..<10).map { "c\($0)" })
    }

    @Test func finishingEarlyStopsTheWorkersAndWaitsForThem() {
        let pipeline = OrderedPipeline<Int>(count: 1_000_000, window: 16)
        let produced = Locked(0)
        pipeline.start(workers: 2) { pipeline in
            while let index = pipeline.claim() {
                produced.withLock { $0 += 1 }
                pipeline.deliver(index, index)
            }
        }
        #expect(pipeline.take(0) == 0)
        pipeline.finish()
        let after = produced.current
        // Nothing runs after finish(): the count no longer moves, and stayed within the window.
        usleep(20_000)
        #expect(produced.current == after)
        #expect(after <= 17)
    }
}
