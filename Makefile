# plansync — build, test and demo. See README.md.
SWIFT    ?= swift
PREFIX   ?= /usr/local
DEMO     := Config/demo/plansync.toml
BIN      := .build/debug/plansync

.PHONY: all deps build release test demo clean

all: build

deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The whole test suite (unit, parser, config and end-to-end tests of the built binary).
test: deps
	$(SWIFT) build
	$(SWIFT) test

# Runs plansync on the demo configuration: validates it, then syncs the two seed feeds into
# a fresh mirror in .demo/ (mirror.sqlite, alerts.jsonl) and shows verdicts and alert events.
demo: build
	$(BIN) check --config $(DEMO)
	@rm -rf .demo
	@echo
	$(BIN) sync --config $(DEMO)
	@echo
	@echo "Mirror: .demo/mirror.sqlite   Alert log: .demo/alerts.jsonl"
	@echo "Try:    $(BIN) history modern_services --config $(DEMO)"

clean:
	rm -rf .build .demo
