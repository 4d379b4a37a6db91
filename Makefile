# relpub: two commands on a fresh clone.
#   make demo   installs, builds, publishes examples/release to a fresh ./artifact-repository
#   make test   installs, type-checks, builds and runs every test
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: install build check test test-deps demo bench clean

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NPM_STAMP)

install: $(NPM_STAMP)

dist/launch.cjs: $(NPM_STAMP) $(shell find src -name '*.ts') scripts/build.mjs scripts/launch.cjs
	node scripts/build.mjs

build: dist/launch.cjs

check: install
	npx tsc --noEmit -p tsconfig.json

test-deps: install
	bash scripts/test-deps.sh

test: install test-deps build check
	npx vitest run

demo: build
	rm -rf artifact-repository
	./bin/relpub publish examples/release --version v1.0.0 \
	  --validation-result examples/validation.json
	@echo
	@echo "== artifact-repository/index.md"
	@cat artifact-repository/index.md
	@echo "== artifact-repository/index.json"
	@cat artifact-repository/index.json

bench: build
	npm run bench

clean:
	rm -rf dist artifact-repository
