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

# Runs plansync on the demo configuration: validates it, then judges the Futian 2023 plan
# against the 2022 outcome published in the plan document (annex and report text).
demo: build
	$(BIN) check --config $(DEMO)
	@echo
	$(BIN) evaluate --plan Config/plans/futian-2023.toml \
	    --observations Config/feeds/futian-2022-annex.csv Config/feeds/futian-2022-report.csv --year 2022

clean:
	rm -rf .build .demo
