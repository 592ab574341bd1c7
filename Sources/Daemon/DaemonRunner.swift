import Configuration
import Fetch
import Foundation
import Logging
import Mirror
import NIOHTTP1
import PlanCore
#if canImport(Glibc)
    import Glibc
    import Support
#endif

/// What the daemon is doing, for the status socket.
struct DaemonState: Sendable {
    var config: DaemonConfig
    var syncer: Syncer
    var lastSyncAt: Date?
    var lastCycle: (ok: Int, failed: Int) = (0, 0)
    /// Wall time of the last sync cycle (fetch, reconcile, judge, alert log), and how many ran.
    var lastCycleSeconds: Double?
    /// The last completed cycle's phases (seconds each) and how many plans it judged again.
    var lastCyclePhases: [(phase: String, seconds: Double)] = []
    var lastCycleJudged: Int?
    var cycles = 0
}

/// `plansync daemon`: the long-running process systemd supervises. Dispatch drives it:
/// the scheduler's timers, signal sources, the watchdog timer; SwiftNIO serves the socket.
public final class DaemonRunner: @unchecked Sendable {
    let logger: Logger
    let notifier: SystemdNotifier
    let startedAt = Date()
    /// The nice value of the thread that parses large feed bodies (see `Syncer.parseNiceness`).
    static let parseNiceness: Int32 = 19
    let state: Locked<DaemonState>
    let mirror: Mirror
    let engine: FetchEngine
    /// Notification sinks' own transfers: a slow receiver never takes a feed's slot.
    let sinkEngine = FetchEngine(maxConcurrent: 4)
    /// One delivery loop per configured `[[sink]]`, by id.
    let sinkWorkers = Locked<[String: SinkWorker]>([:])
    /// Report files waiting to be rewritten: after the first cycle, those missing (a province's
    /// files are not all rewritten at every restart) and the index; then those of plans that
    /// change.
    let reports = Locked(ReportQueue(plans: [], pending: true))
    /// The timer set for the next release recheck (`armRecheck`).
    let recheckTimer = Locked<DispatchSourceTimer?>(nil)
    /// The timer set for the next acknowledgement or silence to end (`armDeadlines`).
    let deadlineTimer = Locked<DispatchSourceTimer?>(nil)
    var scheduler: Scheduler!
    var server: StatusServer!
    private var signalSources: [DispatchSourceSignal] = []
    private let signalQueue = DispatchQueue(label: "plansync.signals")
    private var watchdog: DispatchSourceTimer?
    private let exitCode = Locked<Int32?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Runs the daemon until SIGTERM/SIGINT; returns the exit status (0 on a clean stop).
    public static func run(configPath: String, logger: Logger) -> Int32 {
        run(loaded: Result { () throws(ConfigError) in try DaemonConfig.load(path: configPath) }, logger: logger)
    }

    /// Runs the daemon on a configuration already read (or the error reading it gave).
    public static func run(loaded: Result<DaemonConfig, ConfigError>, logger: Logger) -> Int32 {
        let config: DaemonConfig
        do { config = try loaded.get() } catch {
            logger.critical("invalid configuration: \(error)")
            FileHandle.standardError.write(Data("plansync: \(error)\n".utf8))
            return 2
        }
        if let other = SocketProbe.liveOwner(of: config.socket) {
            let message =
                "another plansync daemon\(other.pid.map { " (pid \($0))" } ?? "") is already listening on \(config.socket); stop it first (systemctl stop plansync) or set a different `socket`"
            logger.critical("\(message)")
            FileHandle.standardError.write(Data("plansync: \(message)\n".utf8))
            return 1
        }
        let mirror: Mirror
        do { mirror = try Mirror(path: config.database) } catch {
            logger.critical("\(error)")
            FileHandle.standardError.write(Data("plansync: \(error)\n".utf8))
            return 1
        }
        let runner = DaemonRunner(config: config, mirror: mirror, logger: logger)
        return runner.start()
    }

    init(config: DaemonConfig, mirror: Mirror, logger: Logger) {
        self.logger = logger
        self.mirror = mirror
        notifier = SystemdNotifier()
        engine = FetchEngine(maxConcurrent: config.maxConcurrentFetches)
        state = Locked(
            DaemonState(
                config: config,
                syncer: Syncer(
                    config: config, mirror: mirror, engine: engine, logger: logger,
                    parseNiceness: DaemonRunner.parseNiceness)))
    }

    private func start() -> Int32 {
        let config = state.current.config
        // A parent (a shell, a test harness, Foundation's Process) may have blocked these.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        _ = glibcMallopt(-8, 2)  // M_ARENA_MAX: a few arenas, not one 64 MiB arena per thread

        SocketProbe.removeStale(config.socket)
        try? FileManager.default.createDirectory(
            atPath: (config.socket as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        do {
            server = try StatusServer(
                path: config.socket, mode: config.socketMode, logger: logger,
                cached: { [weak self] request in self?.cachedRoute(request) }
            ) { [weak self] request in
                guard let self else { return .error(.serviceUnavailable, "shutting down") }
                return await self.route(request)
            }
        } catch {
            logger.critical("cannot listen on \(config.socket): \(error)")
            FileHandle.standardError.write(Data("plansync: cannot listen on \(config.socket): \(error)\n".utf8))
            return 1
        }
        scheduler = Scheduler(onCycleEnd: { [weak self] in self?.reportStatus() }) { [weak self] feeds, done in
            guard let self else { return nil }
            return await self.sync(feeds, done: done)
        }
        // The scheduler knows the feeds before READY=1, so a `POST /v1/sync` right after it
        // is not lost; copying the configuration into the mirror (seconds for thousands of
        // plans) goes on afterwards, and a cycle that starts meanwhile waits for it.
        let configured = DispatchSemaphore(value: 0)
        Task { [self] in
            let states = (try? await mirror.feedStates()) ?? [:]
            scheduler.configure(config.feeds, states: states)
            configured.signal()
            await state.current.syncer.prepare()
            armRecheck()
            await armDeadlines()
        }
        configured.wait()
        applySinks(config.sinks)
        installSignals()
        startWatchdog()
        logger.notice(
            "plansync daemon ready",
            metadata: [
                "config.path": "\(config.path)", "socket.path": "\(config.socket)", "database.path": "\(config.database)",
                "feeds": "\(config.feeds.count)", "pid": "\(getpid())",
            ])
        notifier.notify("READY=1\nSTATUS=ready: \(config.feeds.count) feeds, waiting for the first sync\nMAINPID=\(getpid())")
        pageOutWhenIdle()
        done.wait()
        return exitCode.current ?? 0
    }

    /// One sync cycle over `feeds`; returns the ids that failed.
    func sync(_ feeds: Set<String>, done: @escaping @Sendable (String, Bool) -> Void = { _, _ in }) async -> Set<String>? {
        let syncer = state.current.syncer
        let started = ContinuousClock.now
        func finished(_ state: inout DaemonState) {
            let elapsed = started.duration(to: .now).components
            state.lastSyncAt = Date()
            state.lastCycleSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            state.cycles += 1
        }
        do {
            let report = try await syncer.run(only: feeds, feedDone: { done($0.id, $0.succeeded) })
            let failed = Set(report.feeds.filter { !$0.succeeded }.map(\.id))
            state.withLock {
                finished(&$0)
                $0.lastCycle = (report.feeds.count - failed.count, failed.count)
                $0.lastCyclePhases = report.phaseSeconds
                $0.lastCycleJudged = report.rejudged.count
            }
            if !report.eventSeqs.isEmpty { for worker in sinkWorkers.current.values { worker.ring() } }
            refreshReports(Set(report.verdictsChanged).union(report.eventPlans))
            pageOutWhenIdle()
            armRecheck()
            await armDeadlines()
            return failed
        } catch {
            logger.error("sync cycle failed: \(error)", metadata: ["feeds": "\(feeds.sorted().joined(separator: ","))"])
            state.withLock {
                finished(&$0); $0.lastCycle = (0, feeds.count)
            }
            notifier.notify("STATUS=sync failed: \(error)")
            pageOutWhenIdle()
            return nil
        }
    }

    /// Wakes up when a figure falls overdue by its release schedule (the earliest
    /// `judged_plan.recheck_at`) and syncs the feeds of the plans due then, so the
    /// `data_overdue` alert does not wait for the next scheduled cycle (hours away, perhaps).
    /// The cycle, run by the scheduler like any other, judges those plans again. Re-armed
    /// after every cycle; at most a day ahead, so clock changes are caught up with.
    func armRecheck() {
        Task { [self] in
            guard let (next, due) = try? await mirror.recheck(now: Date()) else { return }
            if !due.isEmpty {
                let plans = Set(due)
                let feeds = Set(state.current.config.feeds.filter { plans.contains($0.plan) }.map(\.id))
                if !feeds.isEmpty {
                    logger.info("release recheck", metadata: ["plans": "\(due.count)"])
                    scheduler.trigger(feeds)
                    return  // that cycle re-arms
                }
            }
            guard let next else { return }
            DaemonRunner.arm(recheckTimer, after: min(86_400, max(0.5, next.timeIntervalSinceNow))) { [weak self] in self?.armRecheck() }
        }
    }

    /// Sets the one-shot timer kept in `slot` to run `handler` after `delay` seconds, cancelling
    /// the one set before; nil cancels it.
    static func arm(_ slot: Locked<DispatchSourceTimer?>, after delay: Double?, _ handler: @escaping @Sendable () -> Void = {}) {
        var timer: DispatchSourceTimer?
        if let delay {
            let source = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
            source.schedule(deadline: .now() + delay)
            source.setEventHandler(handler: handler)
            timer = source
        }
        slot.withLock { old in
            old?.cancel()
            old = timer
        }
        timer?.resume()
    }

    /// Between cycles the daemon idles for hours: once no cycle ran or runs for
    /// `MemoryTrim.idle`, SQLite's caches and freed heap go back to the system, and the code
    /// pages only this process maps (unless `PLANSYNC_IDLE_PAGEOUT=off`). Cycles that follow
    /// each other closely keep theirs (trimming after each cost the next one its page faults).
    func pageOutWhenIdle() {
        let cycles = state.current.cycles
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + MemoryTrim.idle) { [weak self] in
            guard let self, state.current.cycles == cycles, !scheduler.isBusy else { return }
            mirror.releaseMemory()
            MemoryTrim.trimHeap()
            guard MemoryTrim.idleBeforePageOut != nil else { return }
            let bytes = MemoryTrim.pageOutCode()
            logger.debug("idle: memory given back", metadata: ["code.bytes.advised": "\(bytes)"])
        }
    }

    /// `STATUS=` after each cycle: feeds ok/failed and firing alerts.
    func reportStatus() {
        Task { [self] in
            let metrics = try? await mirror.metrics()
            let cycle = state.current.lastCycle
            let warning = metrics?.firingBySeverity["warning"] ?? 0, critical = metrics?.firingBySeverity["critical"] ?? 0
            notifier.notify("STATUS=last sync: \(cycle.ok) feeds ok, \(cycle.failed) failed; alerts firing: \(critical) critical, \(warning) warning")
        }
    }

    private func installSignals() {
        for signalNumber in [SIGHUP, SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: signalQueue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if signalNumber == SIGHUP {
                    Task { _ = await self.reload() }
                } else {
                    self.shutdown(signal: signalNumber)
                }
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// WATCHDOG=1 from the scheduler's own queue, and only while cycles complete: if that
    /// queue hangs, or a running cycle makes no progress (no feed finishes, it does not end)
    /// for `stallLimit`, the pings stop and systemd restarts the daemon. (A daemon whose alert
    /// log blocked kept pinging with no cycle running and a dead socket.)
    private func startWatchdog() {
        guard let interval = notifier.watchdogInterval else { return }
        let timer = DispatchSource.makeTimerSource(queue: scheduler.queue)
        timer.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(Int(interval * 100)))
        let warned = Locked(false)
        timer.setEventHandler { [notifier, scheduler, logger, state] in
            let limit = DaemonRunner.stallLimit(state.current.config)
            if let idle = scheduler?.secondsWithoutProgress, idle > limit {
                let first = warned.withLock { was in
                    defer { was = true }; return !was
                }
                if first {
                    logger.critical(
                        "sync cycle stalled: no progress for \(Int(idle)) s (limit \(Int(limit)) s); watchdog pings stopped so systemd restarts the daemon")
                    notifier.notify("STATUS=stalled: a sync cycle made no progress for \(Int(idle)) s")
                }
                return
            }
            warned.withLock { $0 = false }
            notifier.notify("WATCHDOG=1")
        }
        timer.resume()
        watchdog = timer
    }

    /// `PLANSYNC_STALL_AFTER=<seconds>`, read once (the watchdog asks every few seconds).
    static let stallOverride: Double? = {
        guard let text = ProcessInfo.processInfo.environment["PLANSYNC_STALL_AFTER"], let seconds = Double(text), seconds > 0 else {
            return nil
        }
        return seconds
    }()

    /// How long a running cycle may go without progress before it counts as stuck: twice the
    /// longest a feed may legitimately take (every attempt timing out, with the longest
    /// backoffs), and at least 10 minutes (judging and storing a very large body report no
    /// progress while they run). `PLANSYNC_STALL_AFTER=<seconds>` overrides it.
    static func stallLimit(_ config: DaemonConfig) -> Double {
        if let stallOverride { return stallOverride }
        let longestFeed =
            config.feeds.map { feed in
                let s = feed.settings
                // Every attempt timing out, and the longest backoffs (Syncer caps retryMaxDelay at 60 s).
                return (s.timeout + s.connectTimeout) * Double(s.retries + 1) + Double(s.retries) * 60
            }.max() ?? 0
        return max(600, 2 * longestFeed)
    }

    /// Re-reads the configuration; an invalid one is logged and ignored. Returns an error text or nil.
    func reload() async -> String? {
        let current = state.current.config
        notifier.notify("RELOADING=1\nSTATUS=reloading \(current.path)")
        let fresh: DaemonConfig
        do {
            fresh = try DaemonConfig.load(path: current.path)
        } catch {
            logger.error(
                "reload: the new configuration is invalid and was ignored; the old one keeps running",
                metadata: ["error": "\(error)"])
            notifier.notify("READY=1\nSTATUS=reload failed, old configuration kept: \(error)")
            return "\(error)"
        }
        var notes: [String] = []
        if fresh.socket != current.socket { notes.append("socket changes need a restart") }
        if fresh.database != current.database { notes.append("database changes need a restart") }
        var applied = fresh
        applied.socket = current.socket
        applied.database = current.database
        let syncer = Syncer(config: applied, mirror: mirror, engine: engine, logger: logger, parseNiceness: DaemonRunner.parseNiceness)
        state.withLock {
            $0.config = applied
            $0.syncer = syncer
        }
        await syncer.prepare()
        let states = (try? await mirror.feedStates()) ?? [:]
        scheduler.configure(applied.feeds, states: states)
        applySinks(applied.sinks)
        // Every plan's report is rewritten after the next cycle (judged on the new plans by then).
        reports.withLock { $0.add(nil) }
        logger.notice("configuration reloaded", metadata: ["feeds": "\(applied.feeds.count)", "notes": "\(notes.joined(separator: "; "))"])
        notifier.notify("READY=1\nSTATUS=reloaded: \(applied.feeds.count) feeds\(notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))")")
        return nil
    }

    /// Starts a delivery loop for each new or changed sink and stops those of sinks removed
    /// or changed (a changed sink keeps its cursor: it goes on where it was).
    func applySinks(_ sinks: [SinkConfig]) {
        var stopping: [SinkWorker] = []
        var starting: [SinkWorker] = []
        sinkWorkers.withLock { workers in
            for (id, worker) in workers where !sinks.contains(worker.config) {
                stopping.append(worker)
                workers[id] = nil
            }
            for sink in sinks where workers[sink.id] == nil {
                let worker = SinkWorker(config: sink, mirror: mirror, engine: sinkEngine, logger: logger)
                workers[sink.id] = worker
                starting.append(worker)
            }
        }
        // A changed sink's old loop ends before its new one reads the cursor.
        Task {
            for worker in stopping { await worker.stop() }
            for worker in starting { worker.start() }
        }
    }

    /// Stops scheduling, lets a running sync finish (up to 8 s), closes the socket, exits 0.
    private func shutdown(signal signalNumber: Int32) {
        logger.notice("stopping", metadata: ["signal": "\(signalNumber == SIGTERM ? "SIGTERM" : "SIGINT")"])
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        watchdog?.cancel()
        scheduler.stop()
        for source in signalSources { source.cancel() }
        DispatchQueue.global().async { [self] in
            let deadline = Date().addingTimeInterval(8)
            while scheduler.isBusy, Date() < deadline { usleep(20_000) }
            server.close()
            // The WAL goes into the database file, so the file alone is complete once stopped
            // (a cycle still running after the deadline keeps it open: the WAL then recovers).
            if !scheduler.isBusy {
                do throws(MirrorError) { try mirror.close() } catch {
                    logger.warning("cannot checkpoint the mirror at stop", metadata: ["error": "\(error)"])
                }
            }
            exitCode.withLock { $0 = 0 }
            done.signal()
        }
    }
}

/// Finding out whether a socket path belongs to a live daemon.
enum SocketProbe {
    /// The live owner of a socket path (its pid from SO_PEERCRED), or nil when nothing listens.
    static func liveOwner(of path: String) -> (pid: Int32?, Void)? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard case (var address, let addressLength)? = UnixAddress.make(path) else { return nil }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, addressLength) }
        }
        guard connected == 0 else { return nil }
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        let pid: Int32? = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 ? credentials.pid : nil
        return (pid, ())
    }

    /// Removes a socket file nobody listens on (left by a crash). Never touches a live one.
    static func removeStale(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK, liveOwner(of: path) == nil else { return }
        unlink(path)
    }
}

/// `struct ucred` (pid, uid, gid), which Glibc only declares under _GNU_SOURCE.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// glibc's malloc_trim(3) and mallopt(3), which the Glibc module does not export.
@_silgen_name("malloc_trim") func glibcMallocTrim(_ pad: Int) -> Int32
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
