# plansync — build, test and demo. See README.md.
SWIFT    ?= swift
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR   ?= $(PREFIX)/share/doc/plansync
CONFDIR  ?= /etc/plansync
LOGROTATEDIR ?= /etc/logrotate.d
DEMO     := Config/demo/plansync.toml
BIN      := .build/debug/plansync
# The binary `make install` installs; set it to skip the release build (tests do).
INSTALL_BIN ?= .build/release/plansync

.PHONY: all deps build release test lint format demo demo-sync demo-report install uninstall bench bench-scale bench-sinks reliability fuzz clean

all: build

deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build

# The Swift runtime and Foundation are linked in: the installed binary needs only the
# system's C libraries (libcurl, libsqlite3), and it starts in about two thirds of the time
# (no relocation of a dozen shared Swift libraries at every `plansync` command).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

# The whole test suite (unit, parser, config and end-to-end tests of the built binary; the
# PyPI tools the OpenAPI test uses are installed first, into .build/python), then
# the socket API fuzzed for 40 s against docs/openapi.yaml (after the suite, not beside it:
# its load would starve the suite's timing-sensitive tests on a small machine).
test: deps
	$(SWIFT) build
	@.ci/python-tools >/dev/null
	$(SWIFT) test
	API_FUZZ_SECONDS=40 API_FUZZ_EXAMPLES=20 .ci/api-fuzz

# Formatting, checked (swift format, in the toolchain; settings in .swift-format). `make format` fixes it.
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

# Runs the daemon on the demo configuration, in the foreground (Ctrl-C stops it): a fresh
# mirror and alert log in .demo/, the seed feeds synced every minute, the status socket at
# .demo/status.sock.
demo: build
	$(BIN) check --config $(DEMO)
	@rm -rf .demo
	@echo
	@echo "Starting the daemon. In another terminal:"
	@echo "  $(BIN) indicators --config $(DEMO) --year 2022"
	@echo "  $(BIN) alerts --config $(DEMO)"
	@echo "  curl --unix-socket .demo/status.sock http://localhost/v1/status"
	@echo "  jq -c . .demo/alerts.jsonl"
	@echo
	$(BIN) daemon --config $(DEMO)

# One sync cycle on the demo configuration, printing verdicts and alert events, then exit.
demo-sync: build
	@rm -rf .demo
	$(BIN) sync --config $(DEMO)

# The seed plan's annex as a report: one sync cycle on the demo configuration, then
# .demo/report.html (open it in a browser, print it) and .demo/report.xlsx.
demo-report: build
	@rm -rf .demo
	$(BIN) sync --config $(DEMO) >/dev/null
	$(BIN) report --config $(DEMO) -o .demo/report.html
	$(BIN) report --config $(DEMO) -o .demo/report.xlsx
	@echo
	@echo "The report is in $$(pwd)/.demo/report.html and $$(pwd)/.demo/report.xlsx"
	@echo "(the daemon keeps its own in .demo/report/, rewritten after each cycle that changes something)."

# Benchmarks against baselines measured in the same run (figures in docs/benchmarks.md).
bench: release
	@command -v socat >/dev/null && command -v bc >/dev/null && command -v jq >/dev/null && [ -x /usr/bin/time ] || \
	    { sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; $$sudo apt-get install -y -qq socat bc jq time nginx-light >/dev/null; }
	Benchmarks/bench.sh

# Province scale: PLANS county plans (default 280) with shared indicator codes
# (UNIQUE_CODES=1 for codes of their own), one feed each, beside sqlite3 .import (issue 16).
PLANS ?= 280
bench-scale: release
	@command -v bc >/dev/null && [ -x /usr/bin/time ] || \
	    { sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; $$sudo apt-get install -y -qq bc time >/dev/null; }
	PLANS=$(PLANS) Benchmarks/bench-scale.sh

# Notification sinks: a backlog of about 10,000 events drained to a webhook, and the
# latency from an event's alert log line to the receiver.
bench-sinks: release
	@command -v bc >/dev/null || \
	    { sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; $$sudo apt-get install -y -qq bc >/dev/null; }
	Benchmarks/bench-sinks.sh

# The reliability suite: SIGKILL at random moments, a full disk, load with malformed clients
# (it also runs as part of `make test`); then the socket API fuzzed by Schemathesis against
# docs/openapi.yaml through a loopback bridge for API_FUZZ_SECONDS (default 120; `make test`
# runs it for 40): no 5xx, every answer as the spec says, the mirror and alert log intact.
API_FUZZ_SECONDS ?= 120
reliability: deps
	$(SWIFT) build
	$(SWIFT) test --filter "ReliabilityTests|HardeningTests|AddressPolicyTests|AlertLogTests|AcknowledgementDaemonTests"
	API_FUZZ_SECONDS=$(API_FUZZ_SECONDS) .ci/api-fuzz

# Fuzzes every parser with libFuzzer + AddressSanitizer, seeded with the test fixtures;
# FUZZ_SECONDS per parser (default 60). A crash input is saved as fuzz-crash-*; replay it with
# `.build/debug/plansync-fuzz FILE` and add it to Tests/FeedFormatsTests/Fixtures/fuzz-regressions/.
# Leak detection is on (it was off while the TOML library used before leaked on every syntax error).
FUZZ_SECONDS ?= 60
# The parsers are listed by the replay build (`plansync-fuzz --list`): one per feed format and
# charset, the plan and the config, so a new format is fuzzed without editing this file.
fuzz: deps
	$(SWIFT) build --product plansync-fuzz
	$(SWIFT) build --product plansync-fuzz --scratch-path .build-fuzz \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING
	@rm -rf .build-fuzz/corpus && mkdir -p .build-fuzz/corpus
	@parsers=$$(.build/debug/plansync-fuzz --list | wc -l); \
	for p in $$(seq 0 $$((parsers - 1))); do for f in Tests/FeedFormatsTests/Fixtures/*.* Tests/FeedFormatsTests/Fixtures/fuzz-regressions/* Config/feeds/* Config/plans/* Config/demo/plansync.toml Config/plansync.toml; do \
	    [ -f "$$f" ] && { printf "\\$$(printf '%03o' $$p)"; cat "$$f"; } > .build-fuzz/corpus/$$p-$$(basename $$f); done; done
	@parsers=$$(.build/debug/plansync-fuzz --list | wc -l); \
	for p in $$(seq 0 $$((parsers - 1))); do mkdir -p .build-fuzz/corpus-$$p; cp .build-fuzz/corpus/$$p-* .build-fuzz/corpus-$$p/; \
	    echo "parser $$p:"; .build-fuzz/debug/plansync-fuzz .build-fuzz/corpus-$$p -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=fuzz-crash-$$p- > .build-fuzz/log-$$p 2>&1; \
	    status=$$?; tail -3 .build-fuzz/log-$$p; [ $$status -eq 0 ] || { echo "parser $$p failed: see .build-fuzz/log-$$p"; exit 1; }; done

# Installs the release binary, the systemd unit, the sysusers and logrotate files, the default
# configuration and the seed plan. An existing configuration, plan or feed file is kept.
install: $(if $(filter .build/release/plansync,$(INSTALL_BIN)),release)
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/plansync
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/bin/plansync|$(BINDIR)/plansync|g; s|/usr/local/share/doc/plansync|$(DOCDIR)|g; s|/etc/plansync/|$(CONFDIR)/|g' \
	    systemd/plansync.service > $(DESTDIR)$(UNITDIR)/plansync.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/plansync.service
	install -D -m 0644 systemd/plansync.sysusers $(DESTDIR)$(SYSUSERSDIR)/plansync.conf
	install -D -m 0644 systemd/plansync.logrotate $(DESTDIR)$(LOGROTATEDIR)/plansync
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -d $(DESTDIR)$(DOCDIR)/docs
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	install -d -m 0750 $(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/plans $(DESTDIR)$(CONFDIR)/feeds
	@for f in plansync.toml; do \
	    if [ -e $(DESTDIR)$(CONFDIR)/$$f ]; then echo "keeping existing $(DESTDIR)$(CONFDIR)/$$f"; \
	    else install -m 0640 Config/$$f $(DESTDIR)$(CONFDIR)/$$f; fi; done
	@for f in Config/plans/*.toml; do t=$(DESTDIR)$(CONFDIR)/plans/$$(basename $$f); \
	    if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@for f in Config/feeds/*.csv; do t=$(DESTDIR)$(CONFDIR)/feeds/$$(basename $$f); \
	    if [ -e $$t ]; then echo "keeping existing $$t"; else install -m 0644 $$f $$t; fi; done
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null && [ -d /run/systemd/system ]; then \
	    systemd-sysusers $(SYSUSERSDIR)/plansync.conf; systemctl daemon-reload; \
	    chgrp -R plansync $(CONFDIR); echo "Installed. Start with: systemctl enable --now plansync"; fi

# Removes what `make install` installed, except the configuration, state and logs.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/plansync $(DESTDIR)$(UNITDIR)/plansync.service \
	    $(DESTDIR)$(SYSUSERSDIR)/plansync.conf $(DESTDIR)$(LOGROTATEDIR)/plansync $(DESTDIR)$(DOCDIR)/README.md
	rm -rf $(DESTDIR)$(DOCDIR)/docs
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "Kept $(CONFDIR), /var/lib/plansync and /var/log/plansync; remove them by hand if you want them gone."

clean:
	rm -rf .build .demo
