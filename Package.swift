// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "plansync",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "plansync", targets: ["plansync"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // Plans, targets, periods, observations, verdicts and their judging. Pure: no I/O, no system calls.
        .target(name: "PlanCore", dependencies: ["Support"]),
        // Small helpers every layer uses: timestamps, redaction, decimal text, the lock type,
        // threads at lowered priority, SHA-256.
        .target(name: "Support", dependencies: ["CCrypto"]),
        // Feed body parsers (native csv/json, table-csv, SDMX-CSV, SDMX-JSON, NBS JSON) and charset decoding.
        .target(name: "FeedFormats", dependencies: ["PlanCore", "Support"]),
        // libcurl, with typed wrappers for its variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // SHA-256 from the system's libcrypto (OpenSSL), through pkg-config like libcurl.
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libxlsxwriter, for the report's spreadsheet.
        .systemLibrary(
            name: "CXlsxWriter",
            pkgConfig: "xlsxwriter",
            providers: [.apt(["libxlsxwriter-dev"])]
        ),
        // Fetching feeds over http, https and file with libcurl's multi interface.
        .target(name: "Fetch", dependencies: ["CCurl", "PlanCore", "Support"]),
        // The SQLite mirror: schema, migrations, reconciliation, verdicts, alerts, queries.
        .target(
            name: "Mirror",
            dependencies: [
                "PlanCore", "Support",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // Reports from the mirror: self-contained HTML with SVG charts, XLSX, CSV.
        .target(name: "Report", dependencies: ["PlanCore", "Mirror", "Support", "CXlsxWriter"]),
        // Daemon configuration and plan files (TOML): loading and validation.
        .target(
            name: "Configuration",
            dependencies: ["PlanCore", "FeedFormats", "Support"]
        ),
        // The daemon: sync pipeline, scheduler, alert sinks, status socket, systemd.
        .target(
            name: "Daemon",
            dependencies: [
                "PlanCore", "FeedFormats", "Configuration", "Fetch", "Mirror", "Report", "Support",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "plansync",
            dependencies: [
                "PlanCore", "FeedFormats", "Configuration", "Daemon", "Mirror", "Report", "Support",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Every parser behind one libFuzzer entry point (`make fuzz`); a corpus replayer otherwise.
        .executableTarget(name: "plansync-fuzz", dependencies: ["PlanCore", "FeedFormats", "Configuration"]),
        .testTarget(name: "PlanCoreTests", dependencies: ["PlanCore", "Support"]),
        .testTarget(name: "FeedFormatsTests", dependencies: ["FeedFormats"], exclude: ["Fixtures"]),
        .testTarget(name: "ConfigurationTests", dependencies: ["Configuration"], exclude: ["Fixtures"]),
        // Real servers for tests: nginx, and a fault server that misbehaves on purpose.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FetchTests", dependencies: ["Fetch", "Support", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Mirror", "PlanCore", "Support"]),
        .testTarget(name: "MirrorTests", dependencies: ["Mirror", "Support", "TestSupport"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "Support", "TestSupport"]),
        .testTarget(
            name: "PlansyncTests", dependencies: ["plansync", "plansync-fuzz", "Configuration", "Support", "TestSupport"],
            exclude: ["Fixtures"]),
    ]
)
