import GRDB

extension Mirror {
    /// Schema migrations, oldest first. Never edit a shipped migration: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-initial") { db in
            try db.execute(
                sql: """
                    CREATE TABLE plan (
                        id         TEXT PRIMARY KEY,
                        title      TEXT NOT NULL,
                        title_en   TEXT,
                        region     TEXT,
                        file       TEXT,
                        updated_at TEXT NOT NULL
                    );
                    CREATE TABLE indicator (
                        plan_id  TEXT NOT NULL REFERENCES plan(id) ON DELETE CASCADE,
                        code     TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        name     TEXT NOT NULL,
                        name_en  TEXT,
                        category TEXT NOT NULL CHECK (category IN ('expected', 'binding')),
                        unit     TEXT NOT NULL,
                        PRIMARY KEY (plan_id, code)
                    );
                    CREATE TABLE target (
                        plan_id   TEXT NOT NULL,
                        indicator TEXT NOT NULL,
                        year      INTEGER NOT NULL,
                        rule      TEXT NOT NULL,
                        value     TEXT,
                        base_year INTEGER,
                        text      TEXT,
                        PRIMARY KEY (plan_id, indicator, year),
                        FOREIGN KEY (plan_id, indicator) REFERENCES indicator(plan_id, code) ON DELETE CASCADE
                    );
                    CREATE TABLE feed (
                        id                   TEXT PRIMARY KEY,
                        plan_id              TEXT NOT NULL,
                        url                  TEXT NOT NULL,
                        format               TEXT NOT NULL,
                        priority             INTEGER NOT NULL,
                        interval_seconds     REAL NOT NULL,
                        active               INTEGER NOT NULL DEFAULT 1,
                        etag                 TEXT,
                        last_modified        TEXT,
                        body_sha256          TEXT,
                        consecutive_failures INTEGER NOT NULL DEFAULT 0,
                        observation_count    INTEGER NOT NULL DEFAULT 0,
                        last_fetch_id        INTEGER,
                        last_attempt_at      TEXT,
                        last_success_at      TEXT,
                        last_error           TEXT,
                        created_at           TEXT NOT NULL
                    );
                    CREATE TABLE fetch (
                        id            INTEGER PRIMARY KEY,
                        feed_id       TEXT NOT NULL REFERENCES feed(id),
                        started_at    TEXT NOT NULL,
                        finished_at   TEXT NOT NULL,
                        outcome       TEXT NOT NULL,
                        http_status   INTEGER,
                        bytes         INTEGER NOT NULL DEFAULT 0,
                        duration_ms   REAL,
                        connect_ms    REAL,
                        first_byte_ms REAL,
                        attempts      INTEGER NOT NULL DEFAULT 1,
                        url           TEXT,
                        etag          TEXT,
                        last_modified TEXT,
                        body_sha256   TEXT,
                        content_type  TEXT,
                        inserted      INTEGER NOT NULL DEFAULT 0,
                        revised       INTEGER NOT NULL DEFAULT 0,
                        unchanged     INTEGER NOT NULL DEFAULT 0,
                        skipped       INTEGER NOT NULL DEFAULT 0,
                        error         TEXT
                    );
                    CREATE INDEX fetch_by_feed ON fetch(feed_id, id);
                    CREATE TABLE observation (
                        plan_id        TEXT NOT NULL,
                        feed_id        TEXT NOT NULL,
                        indicator      TEXT NOT NULL,
                        period         TEXT NOT NULL,
                        measure        TEXT NOT NULL,
                        cumulative     INTEGER NOT NULL DEFAULT 0,
                        base_year      INTEGER NOT NULL DEFAULT 0,
                        value          TEXT NOT NULL,
                        value_num      REAL NOT NULL,
                        unit           TEXT,
                        note           TEXT,
                        first_fetch_id INTEGER NOT NULL,
                        fetch_id       INTEGER NOT NULL,
                        updated_at     TEXT NOT NULL,
                        PRIMARY KEY (indicator, period, measure, cumulative, base_year, feed_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE revision (
                        id           INTEGER PRIMARY KEY,
                        plan_id      TEXT NOT NULL,
                        feed_id      TEXT NOT NULL,
                        indicator    TEXT NOT NULL,
                        period       TEXT NOT NULL,
                        measure      TEXT NOT NULL,
                        cumulative   INTEGER NOT NULL,
                        base_year    INTEGER NOT NULL,
                        old_value    TEXT NOT NULL,
                        new_value    TEXT NOT NULL,
                        old_fetch_id INTEGER NOT NULL,
                        fetch_id     INTEGER NOT NULL,
                        revised_at   TEXT NOT NULL
                    );
                    CREATE INDEX revision_by_indicator ON revision(plan_id, indicator);
                    CREATE TABLE verdict (
                        plan_id      TEXT NOT NULL,
                        indicator    TEXT NOT NULL,
                        year         INTEGER NOT NULL,
                        status       TEXT NOT NULL,
                        rule         TEXT NOT NULL,
                        measure      TEXT,
                        actual       TEXT,
                        threshold    TEXT,
                        shortfall    TEXT,
                        unit         TEXT,
                        period       TEXT,
                        cumulative   INTEGER NOT NULL DEFAULT 0,
                        feed         TEXT,
                        severity     TEXT,
                        derived      INTEGER NOT NULL DEFAULT 0,
                        conflicts    TEXT NOT NULL DEFAULT '[]',
                        json         TEXT NOT NULL,
                        evaluated_at TEXT NOT NULL,
                        changed_at   TEXT NOT NULL,
                        PRIMARY KEY (plan_id, indicator, year)
                    );
                    CREATE TABLE alert (
                        key        TEXT PRIMARY KEY,
                        alert      TEXT NOT NULL,
                        state      TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
                        severity   TEXT NOT NULL,
                        details    TEXT NOT NULL,
                        message    TEXT NOT NULL,
                        since      TEXT NOT NULL,
                        last_seq   INTEGER NOT NULL
                    );
                    CREATE TABLE alert_event (
                        seq      INTEGER PRIMARY KEY,
                        time     TEXT NOT NULL,
                        key      TEXT NOT NULL,
                        event    TEXT NOT NULL CHECK (event IN ('firing', 'resolved')),
                        alert    TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        line     TEXT NOT NULL,
                        written  INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX alert_event_unwritten ON alert_event(seq) WHERE written = 0;

                    -- The verdict table with names, for people using sqlite3.
                    CREATE VIEW current_verdict AS
                        SELECT v.plan_id, v.indicator, i.name, i.name_en, i.category, v.year, v.status, v.severity,
                               v.measure, v.actual, v.threshold, v.shortfall, v.unit, v.period, v.feed, v.derived, v.changed_at
                        FROM verdict v LEFT JOIN indicator i ON i.plan_id = v.plan_id AND i.code = v.indicator
                        ORDER BY v.plan_id, i.position, v.year;
                    -- Alerts firing now, most severe first.
                    CREATE VIEW firing_alert AS
                        SELECT key, alert, severity, since, message FROM alert WHERE state = 'firing'
                        ORDER BY severity = 'critical' DESC, since;
                    -- Every feed's value of every figure, with the feed's priority (the highest wins).
                    CREATE VIEW observation_by_source AS
                        SELECT o.plan_id, o.indicator, o.period, o.measure, o.cumulative, o.base_year, o.value, o.unit,
                               o.feed_id, f.priority, o.updated_at
                        FROM observation o JOIN feed f ON f.id = o.feed_id
                        ORDER BY o.plan_id, o.indicator, o.period, o.measure, f.priority DESC;
                    """)
        }
        // The revisions of one figure, newest first, without scanning the table (history
        // looked them up per observation on an index that starts with the plan, so every
        // look-up scanned all revisions).
        migrator.registerMigration("v2-revision-by-figure") { db in
            try db.execute(
                sql: """
                    CREATE INDEX revision_by_figure ON revision(indicator, period, measure, cumulative, base_year, feed_id, id);
                    """)
        }
        // Alert delivery keeps one cursor per destination (the alert log, later webhooks and
        // the like) instead of one `written` flag per event: v1's flag becomes the alert log's
        // cursor (the last seq before the first unwritten event).
        migrator.registerMigration("v3-sink-cursors") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sink_cursor (
                        sink          TEXT PRIMARY KEY,
                        delivered_seq INTEGER NOT NULL,
                        updated_at    TEXT NOT NULL
                    );
                    INSERT INTO sink_cursor (sink, delivered_seq, updated_at)
                        SELECT 'alert_log',
                               COALESCE((SELECT MIN(seq) - 1 FROM alert_event WHERE written = 0), (SELECT MAX(seq) FROM alert_event), 0),
                               strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
                    DROP INDEX alert_event_unwritten;
                    ALTER TABLE alert_event DROP COLUMN written;
                    """)
        }
        // Province scale (thousands of plans sharing indicator codes): observations keyed by
        // feed first, so one plan's (one feed's) rows are one range of the key; before, every
        // plan read every plan's rows of a shared code. Judging becomes incremental: each
        // feed's `data_seq` moves when its observations change, `judged_plan` records what
        // each plan's verdicts were computed from.
        migrator.registerMigration("v4-feed-keyed-observations") { db in
            try db.execute(
                sql: """
                    DROP VIEW observation_by_source;
                    CREATE TABLE observation_by_feed (
                        plan_id        TEXT NOT NULL,
                        feed_id        TEXT NOT NULL,
                        indicator      TEXT NOT NULL,
                        period         TEXT NOT NULL,
                        measure        TEXT NOT NULL,
                        cumulative     INTEGER NOT NULL DEFAULT 0,
                        base_year      INTEGER NOT NULL DEFAULT 0,
                        value          TEXT NOT NULL,
                        value_num      REAL NOT NULL,
                        unit           TEXT,
                        note           TEXT,
                        first_fetch_id INTEGER NOT NULL,
                        fetch_id       INTEGER NOT NULL,
                        updated_at     TEXT NOT NULL,
                        PRIMARY KEY (feed_id, indicator, period, measure, cumulative, base_year)
                    ) WITHOUT ROWID;
                    INSERT INTO observation_by_feed
                        SELECT plan_id, feed_id, indicator, period, measure, cumulative, base_year, value, value_num, unit,
                               note, first_fetch_id, fetch_id, updated_at
                        FROM observation ORDER BY feed_id, indicator, period, measure, cumulative, base_year;
                    DROP TABLE observation;
                    ALTER TABLE observation_by_feed RENAME TO observation;
                    CREATE VIEW observation_by_source AS
                        SELECT o.plan_id, o.indicator, o.period, o.measure, o.cumulative, o.base_year, o.value, o.unit,
                               o.feed_id, f.priority, o.updated_at
                        FROM observation o JOIN feed f ON f.id = o.feed_id
                        ORDER BY o.plan_id, o.indicator, o.period, o.measure, f.priority DESC;
                    ALTER TABLE feed ADD COLUMN data_seq INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE plan ADD COLUMN rows_sha256 TEXT;
                    CREATE TABLE judged_plan (
                        plan_id       TEXT PRIMARY KEY,
                        inputs        TEXT NOT NULL,
                        data_seq      INTEGER NOT NULL,
                        status_counts TEXT NOT NULL DEFAULT '{}',
                        judged_at     TEXT NOT NULL,
                        checked_at    TEXT NOT NULL
                    );
                    -- Fetches per feed and outcome, kept as counts: old fetch rows are pruned
                    -- (fetch_retention) while the counters behind /metrics only grow.
                    CREATE TABLE fetch_count (
                        feed_id TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        n       INTEGER NOT NULL,
                        PRIMARY KEY (feed_id, outcome)
                    ) WITHOUT ROWID;
                    INSERT INTO fetch_count (feed_id, outcome, n) SELECT feed_id, outcome, COUNT(*) FROM fetch GROUP BY feed_id, outcome;
                    CREATE INDEX fetch_by_time ON fetch(finished_at);
                    """)
        }
        migrator.registerMigration("v5-alert-counts") { db in
            // /metrics and /v1/status count alerts by state and severity: a province has
            // hundreds of thousands of alert rows. Triggers keep the counts, whoever writes.
            try db.execute(
                sql: """
                    CREATE TABLE alert_count (
                        state    TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        n        INTEGER NOT NULL,
                        PRIMARY KEY (state, severity)
                    ) WITHOUT ROWID;
                    INSERT INTO alert_count (state, severity, n) SELECT state, severity, COUNT(*) FROM alert GROUP BY state, severity;
                    CREATE TRIGGER alert_count_insert AFTER INSERT ON alert BEGIN
                        INSERT INTO alert_count (state, severity, n) VALUES (NEW.state, NEW.severity, 1)
                            ON CONFLICT (state, severity) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER alert_count_update AFTER UPDATE OF state, severity ON alert
                    WHEN OLD.state IS NOT NEW.state OR OLD.severity IS NOT NEW.severity BEGIN
                        UPDATE alert_count SET n = n - 1 WHERE state = OLD.state AND severity = OLD.severity;
                        INSERT INTO alert_count (state, severity, n) VALUES (NEW.state, NEW.severity, 1)
                            ON CONFLICT (state, severity) DO UPDATE SET n = n + 1;
                    END;
                    CREATE TRIGGER alert_count_delete AFTER DELETE ON alert BEGIN
                        UPDATE alert_count SET n = n - 1 WHERE state = OLD.state AND severity = OLD.severity;
                    END;
                    """)
        }
        migrator.registerMigration("v6-sink-health") { db in
            // Notification sinks' health, kept by their delivery loops and judged like feeds'
            // (`sink_failing`).
            try db.execute(
                sql: """
                    ALTER TABLE sink_cursor ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE sink_cursor ADD COLUMN failed_events INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE sink_cursor ADD COLUMN last_error TEXT;
                    """)
        }
        migrator.registerMigration("v7-release-recheck") { db in
            // When the clock alone changes a plan's judgement (a figure falling due by its
            // release schedule): the plan is judged again from then, its inputs unchanged.
            // And its watched indicators' release status (the next period awaited, what is
            // overdue) as a JSON array, for `/v1/indicators`.
            try db.execute(sql: "ALTER TABLE judged_plan ADD COLUMN recheck_at TEXT; ALTER TABLE judged_plan ADD COLUMN releases TEXT")
        }
        migrator.registerMigration("v8-acks-silences") { db in
            // Acknowledgements and silences (docs/acknowledgements.md), kept with who made and
            // ended them, and why: the audit trail. Events now also record what people did with
            // an alert, so alert_event's CHECK is widened (SQLite rebuilds the table for that).
            try db.execute(
                sql: """
                    CREATE TABLE ack (
                        id                 INTEGER PRIMARY KEY,
                        key                TEXT NOT NULL,
                        by                 TEXT NOT NULL,
                        note               TEXT NOT NULL,
                        since              TEXT NOT NULL,
                        until              TEXT,
                        until_next_release INTEGER NOT NULL DEFAULT 0,
                        severity           TEXT NOT NULL,
                        shortfall          TEXT,
                        unit               TEXT,
                        figures_mark       INTEGER NOT NULL DEFAULT 0,
                        ended_at           TEXT,
                        end_reason         TEXT,
                        ended_by           TEXT
                    );
                    CREATE UNIQUE INDEX ack_open ON ack(key) WHERE ended_at IS NULL;
                    CREATE INDEX ack_by_key ON ack(key, id);
                    CREATE TABLE silence (
                        id         INTEGER PRIMARY KEY,
                        plans      TEXT NOT NULL,
                        indicators TEXT NOT NULL,
                        alerts     TEXT NOT NULL,
                        feeds      TEXT NOT NULL,
                        until      TEXT NOT NULL,
                        note       TEXT NOT NULL,
                        by         TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        ended_at   TEXT,
                        end_reason TEXT,
                        ended_by   TEXT
                    );
                    CREATE INDEX silence_open ON silence(until) WHERE ended_at IS NULL;
                    CREATE TABLE alert_event_v8 (
                        seq      INTEGER PRIMARY KEY,
                        time     TEXT NOT NULL,
                        key      TEXT NOT NULL,
                        event    TEXT NOT NULL CHECK (event IN ('firing', 'resolved', 'acknowledged', 'unacknowledged',
                                                                'ack_expired', 'ack_broken', 'silence_ended')),
                        alert    TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        line     TEXT NOT NULL
                    );
                    INSERT INTO alert_event_v8 SELECT seq, time, key, event, alert, severity, line FROM alert_event;
                    DROP TABLE alert_event;
                    ALTER TABLE alert_event_v8 RENAME TO alert_event;
                    CREATE INDEX alert_event_by_key ON alert_event(key, seq);
                    """)
        }
        return migrator
    }
}
