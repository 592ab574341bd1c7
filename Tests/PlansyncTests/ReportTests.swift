import Foundation
import Testing
import TestSupport

/// Runs a program to its end (bounded) and returns its status, stdout and stderr. It waits
/// on a thread of its own, not one of Swift's shared ones: Chromium takes seconds, and a test
/// holding a shared thread that long starves the other tests running meanwhile.
func runTool(_ path: String, _ arguments: [String], timeout: TimeInterval = 120) async throws -> PlansyncProcess.Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return await withCheckedContinuation { continuation in
        Thread {
            let outData = Guarded(Data()), errData = Guarded(Data())
            let group = DispatchGroup()
            for (pipe, sink) in [(out, outData), (err, errData)] {
                group.enter()
                Thread {
                    sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                    group.leave()
                }.start()
            }
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            group.wait()
            continuation.resume(
                returning: .init(
                    status: process.terminationStatus, stdout: String(decoding: outData.current, as: UTF8.self),
                    stderr: String(decoding: errData.current, as: UTF8.self)))
        }.start()
    }
}

/// Headless Chromium (Debian's `chromium`) in a network namespace of its own with no
/// interface up: nothing it tries can leave the machine. What a page asked for beyond its
/// own file is read from Chromium's net log (requests with the page as initiator), console
/// messages from its log on stderr.
enum Chromium {
    static let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Page {
        var dom: String
        /// URLs the page requested (other than its own file).
        var requests: [String]
        /// The page's console lines (messages and uncaught errors).
        var console: [String]
        var png: String
        var pdf: String
    }

    static func run(_ arguments: [String]) async throws -> PlansyncProcess.Result {
        try await runTool(
            "/usr/bin/unshare",
            [
                "-rn", binary ?? "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--disable-extensions", "--enable-logging=stderr", "--v=0", "--user-data-dir=" + (try scratchFolder()),
            ] + arguments)
    }

    /// Loads `html` three times: DOM with the net log, a screenshot, a PDF.
    static func load(_ html: String) async throws -> Page {
        let folder = try scratchFolder()
        let url = "file://" + html
        let netLog = folder + "/net.json"
        let dom = try await run(["--log-net-log=" + netLog, "--dump-dom", url])
        let png = folder + "/page.png", pdf = folder + "/page.pdf"
        let shot = try await run(["--screenshot=" + png, "--window-size=800,1000", url])
        _ = try await run(["--print-to-pdf=" + pdf, "--no-pdf-header-footer", url])
        // The page's own (Chromium's internal pages log some of their own).
        let console = (dom.stderr + shot.stderr).split(separator: "\n").filter { $0.contains(":CONSOLE") && $0.contains("source: " + url) }
            .map(String.init)
        let requests = try await runTool(
            "/usr/bin/python3",
            [
                "-c",
                """
                import json, sys
                log = json.load(open(sys.argv[1]))
                types = {v: k for k, v in log['constants']['logEventTypes'].items()}
                for e in log['events']:
                    p = e.get('params', {})
                    # Chromium's own requests have no origin; the page's have its (opaque) one.
                    if types[e['type']] == 'URL_REQUEST_START_JOB' and 'url' in p and p.get('initiator') != 'not an origin':
                        print(p['url'])
                """, netLog,
            ])
        return Page(
            dom: dom.stdout, requests: requests.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("file:") },
            console: console, png: png, pdf: pdf)
    }

    /// Share of pixels in the PNG that are not white (decoded with Python's zlib: 8-bit RGB/RGBA).
    static func inkShare(_ png: String) async throws -> Double {
        let r = try await runTool(
            "/usr/bin/python3",
            [
                "-c",
                """
                import struct, sys, zlib
                data = open(sys.argv[1], 'rb').read()
                assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
                pos, idat = 8, b''
                while pos < len(data):
                    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
                    body = data[pos + 8:pos + 8 + n]
                    if kind == b'IHDR': w, h, depth, color = struct.unpack('>IIBB', body[:10])
                    if kind == b'IDAT': idat += body
                    pos += 12 + n
                bpp = {2: 3, 6: 4}[color]
                raw, stride, prev, ink, out = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0, 0
                for y in range(h):
                    f, line = raw[out], bytearray(raw[out + 1:out + 1 + stride]); out += 1 + stride
                    for i in range(stride):
                        a = line[i - bpp] if i >= bpp else 0
                        b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
                        if f == 1: line[i] = (line[i] + a) & 255
                        elif f == 2: line[i] = (line[i] + b) & 255
                        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
                        elif f == 4:
                            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                    ink += sum(1 for x in range(0, stride, bpp) if min(line[x:x + 3]) < 200)
                    prev = line
                print(ink / (w * h))
                """, png,
            ])
        return Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}

/// The figures of `/v1/indicators` as the report writes them: `3.0`, `-11.6`.
private func figureTexts(_ verdicts: [[String: Any]], _ key: String) -> [String] {
    verdicts.compactMap { v -> String? in
        guard let n = v[key] as? NSNumber else { return nil }
        return String(describing: n.decimalValue)
    }
}

@Suite(.serialized) struct ReportTests {
    @Test func theReportCommandWritesHTMLCSVAndXLSXAndRefusesBadRequests() throws {
        let demo = try demoCopy()
        // Before any sync: a clear error, no file.
        let early = try PlansyncProcess.run(["report", "--config", demo.config])
        #expect(early.status == 1 && early.stderr.contains("does not exist yet") && early.stderr.contains("plansync sync"), "\(early.stderr)")
        #expect(try PlansyncProcess.run(["sync", "--config", demo.config]).status == 0)

        let html = try PlansyncProcess.run(["report", "--config", demo.config])
        #expect(html.status == 0, "\(html.stderr)")
        #expect(html.stdout.hasPrefix("<!DOCTYPE html>\n<html lang=zh-CN>"))
        #expect(html.stdout.contains("地区生产总值") && html.stdout.contains("未完成") && html.stdout.contains("<svg"))
        let english = try PlansyncProcess.run(["report", "--config", demo.config, "--lang", "en", "--year", "2022"])
        #expect(english.stdout.contains("<html lang=en>") && english.stdout.contains("Gross regional product"))
        #expect(english.stdout.contains("missed") && !english.stdout.contains("2023 target") && !english.stdout.contains("<th colspan=4 class=yr>2023"))

        let csv = try PlansyncProcess.run(["report", "--config", demo.config, "--format", "csv"])
        #expect(csv.status == 0)
        #expect(csv.stdout.hasPrefix("\u{FEFF}规划,序号,指标,指标代码"), "UTF-8 with a BOM")
        let gdp = try #require(csv.stdout.split(separator: "\r\n").first { $0.contains(",gdp,") })
        #expect(gdp == "futian-2023,1,地区生产总值,gdp,预期性,亿元,增速 ≥ 6.0%,3.0%,未完成,3.0 个百分点,,增速 ≥ 6.5%,—,暂无数据,,")

        let folder = try scratchFolder()
        let xlsx = folder + "/annex.xlsx"
        let written = try PlansyncProcess.run(["report", "--config", demo.config, "-o", xlsx])
        #expect(written.status == 0 && written.stderr.contains("wrote \(xlsx)"), "\(written.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: xlsx))
        #expect(bytes.prefix(2) == Data("PK".utf8), "an XLSX is a zip file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["annex.xlsx"], "no temporary file left")

        // Bad requests: exit 2 with what is wrong, nothing written.
        for (arguments, message) in [
            (["--plan", "nope"], "no plan 'nope'"), (["--lang", "fr"], "unknown language 'fr'"),
            (["--format", "pdf"], "unknown format 'pdf'"), (["--format", "xlsx"], "give it with -o FILE"),
            (["--year", "1066"], "out of range"), (["--year", "2031"], "no plan asked for has a target for 2031"),
        ] {
            let r = try PlansyncProcess.run(["report", "--config", demo.config] + arguments)
            #expect(r.status == 2 && r.stderr.contains(message) && r.stdout.isEmpty, "\(arguments): \(r.stderr)")
        }
        // An output folder that does not exist: a runtime error, nothing half-written.
        let missing = try PlansyncProcess.run(["report", "--config", demo.config, "-o", folder + "/no/such/report.html"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot create"), "\(missing.stderr)")
    }

    @Test(arguments: ["zh", "en"])
    func chromiumShowsTheReportWithNothingFromTheNetwork(_ lang: String) async throws {
        guard Chromium.binary != nil else {
            Issue.record("chromium is not installed (run .ci/install-deps)")
            return
        }
        let d = try RunningDaemon()
        #expect(d.ready())
        #expect(d.eventually { (try? d.json("/v1/status"))?["last_sync"] is String })
        let verdicts = try d.json("/v1/indicators")["verdicts"] as? [[String: Any]] ?? []
        #expect(verdicts.count == 28)
        let folder = try scratchFolder()
        let html = folder + "/report.html"
        let r = try PlansyncProcess.run(["report", "--config", d.config, "--lang", lang, "-o", html])
        #expect(r.status == 0, "\(r.stderr)")
        let source = try String(contentsOfFile: html, encoding: .utf8)
        #expect(source.range(of: #"(src|href)\s*=\s*"?(https?:)?//"#, options: .regularExpression) == nil, "no external resource")
        #expect(source.range(of: #"url\(\s*['"]?(https?:)?//"#, options: .regularExpression) == nil)
        #expect(!source.contains("<script"), "readable without a script")

        let page = try await Chromium.load(html)
        #expect(page.requests.isEmpty, "requests beyond the file: \(page.requests)")
        #expect(page.console.isEmpty, "console: \(page.console)")
        #expect(page.dom.contains(lang == "zh" ? "<html lang=\"zh-CN\">" : "<html lang=\"en\">"))
        let ink = try await Chromium.inkShare(page.png)
        #expect(ink > 0.02 && ink < 0.9, "the screenshot is not blank: \(ink) of pixels inked")
        let pdf = try Data(contentsOf: URL(fileURLWithPath: page.pdf))
        #expect(pdf.prefix(5) == Data("%PDF-".utf8))
        let pdfText = String(decoding: pdf, as: UTF8.self)
        #expect(pdfText.range(of: #"/MediaBox \[0 0 59[45][.0-9]* 84[12]"#, options: .regularExpression) != nil, "A4 portrait (two years)")

        // Every indicator's name, and every outcome and target figure /v1/indicators reports.
        let text = page.dom.replacingOccurrences(of: "&amp;", with: "&")
        let plan = try String(contentsOfFile: d.root + "/Config/plans/futian-2023.toml", encoding: .utf8)
        let names = plan.split(separator: "\n").compactMap { line -> String? in
            let key = lang == "zh" ? "name     = \"" : "name_en  = \""
            guard line.hasPrefix(key) else { return nil }
            return String(line.dropFirst(key.count).dropLast())
        }
        #expect(names.count == 18)
        for name in names { #expect(text.contains(name), "\(name) missing") }
        for figure in figureTexts(verdicts, "actual") + figureTexts(verdicts, "threshold") + figureTexts(verdicts, "shortfall") {
            let pattern = "[^0-9.]" + NSRegularExpression.escapedPattern(for: figure) + "(\\.0+)?[^0-9.]"
            #expect(text.range(of: pattern, options: .regularExpression) != nil, "\(figure) missing")
        }
        _ = d.stop()
    }

    @Test func theChromiumCheckCatchesAPageThatReachesOutOrFails() async throws {
        guard Chromium.binary != nil else {
            Issue.record("chromium is not installed (run .ci/install-deps)")
            return
        }
        let folder = try scratchFolder()
        let html = folder + "/bad.html"
        try """
        <!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"><link rel=stylesheet href="https://fonts.example/x.css">
        <script>console.error("boom")</script></body></html>
        """.write(toFile: html, atomically: true, encoding: .utf8)
        let page = try await Chromium.load(html)
        #expect(page.requests.contains("http://127.0.0.1:9/x.png") && page.requests.contains("https://fonts.example/x.css"), "\(page.requests)")
        #expect(page.console.contains { $0.contains("boom") })
        #expect(try await Chromium.inkShare(page.png) < 0.01, "a blank page is seen as blank")
    }

    @Test func theSpreadsheetHoldsTheAPIsNumbersAsNumbers() async throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let xlsx = d.root + "/.demo/report/futian-2023.xlsx"
        #expect(d.eventually { FileManager.default.fileExists(atPath: xlsx) }, "the daemon writes its report after the first cycle")
        let verdicts = try d.json("/v1/indicators")["verdicts"] as? [[String: Any]] ?? []
        let r = try await runTool(
            "/usr/bin/python3",
            [
                "-c",
                """
                import json, sys, openpyxl
                book = openpyxl.load_workbook(sys.argv[1])
                sheet = book['futian-2023']
                years = [c.value for c in sheet[2][4:] if c.value]
                rows = []
                for row in sheet.iter_rows(min_row=4):
                    for i, year in enumerate(years):
                        target, outcome, status, shortfall = (row[4 + 5 * i + k] for k in range(4))
                        rows.append({'name': row[1].value, 'year': int(year), 'status': status.value,
                                     'target': target.value, 'target_type': target.data_type, 'target_format': target.number_format,
                                     'outcome': outcome.value, 'outcome_type': outcome.data_type,
                                     'shortfall': shortfall.value, 'shortfall_type': shortfall.data_type})
                observations = list(book[book.sheetnames[1]].iter_rows(min_row=2, values_only=True))
                print(json.dumps({'frozen': sheet.freeze_panes, 'sheets': book.sheetnames, 'rows': rows,
                                  'observations': len(observations), 'values': [o[7] for o in observations]}, ensure_ascii=False))
                """, xlsx,
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let book = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(book["frozen"] as? String == "C4", "header rows and the names stay in view")
        #expect(book["sheets"] as? [String] == ["futian-2023", "数据明细"])
        #expect(book["observations"] as? Int == 29, "11 annex + 18 report figures")
        #expect((book["values"] as? [Any])?.allSatisfy { $0 is NSNumber } == true)
        let rows = book["rows"] as? [[String: Any]] ?? []
        let plan = try String(contentsOfFile: d.root + "/Config/plans/futian-2023.toml", encoding: .utf8)
        var names: [String: String] = [:]  // code → name, from the plan file
        var code: String?
        for line in plan.split(separator: "\n") {
            if line.hasPrefix("code     = \"") { code = String(line.dropFirst(12).dropLast()) }
            if line.hasPrefix("name     = \""), let c = code { names[c] = String(line.dropFirst(12).dropLast()) }
        }
        var compared = 0
        for v in verdicts {
            let name = names[v["indicator"] as? String ?? ""]
            let row = try #require(rows.first { $0["name"] as? String == name && $0["year"] as? Int == v["year"] as? Int }, "\(v)")
            for (api, cell) in [("actual", "outcome"), ("threshold", "target")] {
                guard let expected = v[api] as? NSNumber else { continue }
                #expect(row["\(cell)_type"] as? String == "n", "\(cell) of \(name ?? "") stored as a number")
                #expect((row[cell] as? NSNumber)?.doubleValue == expected.doubleValue, "\(name ?? "") \(v["year"] ?? "") \(cell)")
                compared += 1
            }
            if let shortfall = v["shortfall"] as? NSNumber, ["missed", "at_risk"].contains(v["status"] as? String) {
                #expect((row["shortfall"] as? NSNumber)?.doubleValue == shortfall.doubleValue && row["shortfall_type"] as? String == "n")
                compared += 1
            }
        }
        #expect(compared >= 40)
        let gdp = try #require(rows.first { $0["name"] as? String == "地区生产总值" && $0["year"] as? Int == 2022 })
        #expect(gdp["status"] as? String == "未完成" && gdp["target_format"] as? String == "\"增速 ≥ \"0.0\"%\"")
        _ = d.stop()
    }

    @Test func theDaemonRewritesItsReportAfterAChangeAndServesIt() async throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        let folder = d.root + "/.demo/report"
        let index = folder + "/index.html", planFile = folder + "/futian-2023.html"
        #expect(d.eventually { FileManager.default.fileExists(atPath: folder + "/futian-2023.xlsx") })
        let before = try String(contentsOfFile: planFile, encoding: .utf8)
        #expect(before.contains("<td>3.0%<td class=s-missed>"))

        // The socket serves the files as they are on disk.
        let served = try d.curl("/v1/report")
        #expect(served.status == 200)
        #expect(served.body == (try String(contentsOfFile: index, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try d.curl("/v1/report/futian-2023.html").body == before.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try d.curl("/v1/report/index.html").body == served.body)
        let headers = try await runTool("/usr/bin/curl", ["-s", "-I", "--unix-socket", d.socket, "http://localhost/v1/report"])
        #expect(headers.stdout.lowercased().contains("content-type: text/html; charset=utf-8"))
        let unknown = try d.curl("/v1/report/nope.html")
        #expect(unknown.status == 404 && unknown.body.contains("no plan 'nope'"))
        #expect(try d.curl("/v1/report/../mirror.sqlite").status == 404)
        #expect(try d.curl("/v1/report", method: "POST").status == 405)

        // A revised figure: the next cycle rewrites the files (whole, by rename).
        let feed = d.root + "/Config/feeds/futian-2022-annex.csv"
        let text = try String(contentsOfFile: feed, encoding: .utf8)
        try text.replacingOccurrences(of: "gdp,2022,growth,3.0,", with: "gdp,2022,growth,6.4,").write(toFile: feed, atomically: true, encoding: .utf8)
        let inode = try FileManager.default.attributesOfItem(atPath: planFile)[.systemFileNumber] as? Int
        #expect(try d.curl("/v1/sync", method: "POST").status == 202)
        #expect(d.eventually { ((try? String(contentsOfFile: planFile, encoding: .utf8)) ?? "").contains("<td>6.4%<td class=s-met>") })
        #expect(try FileManager.default.attributesOfItem(atPath: planFile)[.systemFileNumber] as? Int != inode, "replaced by rename")
        let after = try String(contentsOfFile: planFile, encoding: .utf8)
        #expect(after.hasSuffix("</html>\n"), "never half a file")
        #expect(d.eventually { ((try? String(contentsOfFile: index, encoding: .utf8)) ?? "").contains("<td>6.4%<td class=s-met>") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [".sections", "futian-2023.html", "futian-2023.xlsx", "index.html"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/.sections") == ["futian-2023.part"], "no temporary file left")
        _ = d.stop()
    }

    @Test func nginxProxiesTheReportBehindBasicAuth() async throws {
        let d = try RunningDaemon()
        #expect(d.ready())
        #expect(d.eventually { FileManager.default.fileExists(atPath: d.root + "/.demo/report/index.html") })
        let prefix = try scratchFolder()
        let port = try freeTCPPort()
        // The site the operator guide shows (Config/nginx/plansync-report.conf), pointed at this daemon.
        let site = try String(contentsOf: PlansyncProcess.root.appendingPathComponent("Config/nginx/plansync-report.conf"), encoding: .utf8)
            .replacingOccurrences(of: "/run/plansync/status.sock", with: d.socket)
            .replacingOccurrences(of: "/etc/nginx/plansync.htpasswd", with: prefix + "/htpasswd")
            .replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:\(port);")
        let hash = try await runTool("/usr/bin/openssl", ["passwd", "-5", "s3cret"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try "director:\(hash)\n".write(toFile: prefix + "/htpasswd", atomically: true, encoding: .utf8)
        try """
        daemon off; master_process off; worker_processes 1; pid \(prefix)/nginx.pid; error_log \(prefix)/error.log warn;
        events { worker_connections 64; }
        http {
            access_log \(prefix)/access.log;
            client_body_temp_path \(prefix)/body; proxy_temp_path \(prefix)/proxy; fastcgi_temp_path \(prefix)/fastcgi;
            uwsgi_temp_path \(prefix)/uwsgi; scgi_temp_path \(prefix)/scgi;
            \(site)
        }
        """.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        nginx.arguments = ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", prefix + "/error.log"]
        try nginx.run()
        defer {
            // SIGKILL: nginx in single-process mode never unblocks the SIGTERM Foundation blocks.
            kill(nginx.processIdentifier, SIGKILL)
            nginx.waitUntilExit()
        }
        #expect(waitForTCP(port: port, seconds: 10), "\((try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "")")
        func get(_ path: String, _ extra: [String] = []) async throws -> (Int, String) {
            let r = try await runTool("/usr/bin/curl", ["-s", "--max-time", "10", "-w", "\n%{http_code}"] + extra + ["http://127.0.0.1:\(port)\(path)"])
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        #expect(try await get("/plansync/").0 == 401, "no password, no report")
        #expect(try await get("/plansync/", ["-u", "director:wrong"]).0 == 401)
        let index = try await get("/plansync/", ["-u", "director:s3cret"])
        #expect(index.0 == 200 && index.1.contains("地区生产总值") && index.1.hasPrefix("<!DOCTYPE html>"))
        let plan = try await get("/plansync/futian-2023.html", ["-u", "director:s3cret"])
        #expect(plan.0 == 200 && plan.1.contains("<svg"))
        // Only the report is reachable through it: not the rest of the socket's API.
        #expect(try await get("/plansync/../v1/status", ["-u", "director:s3cret", "--path-as-is"]).0 != 200)
        #expect(try await get("/v1/status", ["-u", "director:s3cret"]).0 == 404)
        #expect(try await get("/plansync/", ["-u", "director:s3cret", "-X", "POST"]).0 == 403)
        _ = d.stop()
    }
}
