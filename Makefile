# plansync — build, test and demo. See README.md.
SWIFT    ?= swift
PREFIX   ?= /usr/local
DEMO     := Config/demo/plansync.toml
BIN      := .build/debug/plansync

.PHONY: all deps build release test demo demo-sync clean

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

clean:
	rm -rf .build .demo
