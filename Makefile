# larder: `make demo` and `make test` are the quick start; each installs what
# it lacks first (see scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

CHROME_TEST := WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver

.PHONY: setup build demo dashboard test test-core test-rust-node test-rust-chrome test-js test-keyv test-hooks test-types test-package test-browser test-browser-crash test-bundlers lint soak bench bench-browser bench-core clean

setup:
	@bash scripts/setup.sh

build: setup
	cargo build --target wasm32-unknown-unknown --release
	node scripts/build.mjs

demo: build
	node demo/demo.mjs

# The dashboard (www/dashboard.html), served on http://127.0.0.1:8787 (PORT=… for another port).
dashboard: build
	node scripts/serve.mjs www/dashboard.html

test: build lint test-core test-rust-node test-rust-chrome test-js test-keyv test-types test-package test-browser test-browser-crash test-bundlers

# The core crate's tests, natively (SQLite built from rusqlite's bundled
# sources): the engine, store, schema and policies, in seconds.
test-core: setup
	cargo test -p larder-core

# The wasm crate's suite (the boundary, codec and VFSs, unit tests beside the
# code, environment tests under tests/), run twice: in Node and in headless
# Chromium.
test-rust-node: setup
	wasm-pack test --node

test-rust-chrome: setup
	$(CHROME_TEST)

# The package over a debug wasm built with the test-only panic trigger
# (feature `test-hooks`), in target/pkg-test-hooks, for panic.test.mjs.
test-hooks: build
	cargo build --target wasm32-unknown-unknown --features test-hooks
	node scripts/build.mjs --test-hooks

# The built package through its public API.
test-js: build test-hooks
	node --test --test-reporter=spec tests/js/

# The package's types as a user's project compiles them (tests/types/: strict,
# skipLibCheck off, node16/nodenext/bundler resolution, Node types without the
# DOM lib for the Node entry, the DOM lib for the browser one), then publint and
# arethetypeswrong on the packed package. attw's cjs-resolves-to-esm is about
# require() of an ES module, which Node 20.19 and later (all `engines` admits)
# and TypeScript's `module: nodenext` accept (tests/types/require.cts).
TYPE_PROJECTS := node16 bundler-node bundler-browser nodenext-cjs

test-types: build
	@for project in $(TYPE_PROJECTS); do \
	  echo "tsc -p tests/types/tsconfig.$$project.json"; \
	  node_modules/.bin/tsc -p tests/types/tsconfig.$$project.json || exit 1; \
	done
	node_modules/.bin/publint --strict pkg
	node_modules/.bin/attw --pack pkg --ignore-rules cjs-resolves-to-esm

# The package as users get it: a CommonJS consumer, and the README's
# (PACKAGE.md's) quick starts run from a packed tarball installed offline
# into a fresh project.
test-package: build
	node --test --test-reporter=spec tests/package/

# The long versions: 2000 rounds of SIGKILL during durable writes in Node,
# 2000 power cuts per durability level, 100 rounds of Chromium killed during
# durable writes to OPFS, and memory over 1,000,000 mixed operations at
# capacity (its RSS curve).
soak: build
	LARDER_CRASH_ROUNDS=2000 node --test tests/js/crash.test.mjs
	LARDER_POWER_ROUNDS=2000 node --test tests/js/power-loss.test.mjs
	LARDER_BROWSER_CRASH_ROUNDS=100 node tests/browser/crash.mjs
	node tests/js/soak-memory.mjs 1000000

# keyv's official adapter suite (@keyv/test-suite, on vitest) against
# larderdb/keyv, from tests/keyv/ with its own dependencies, after checking
# the adapter's declared types against keyv's.
test-keyv: build
	cd tests/keyv && ../../node_modules/.bin/tsc -p . && node_modules/.bin/vitest run

test-browser: build test-hooks
	node tests/browser/run.mjs
	node tests/browser/load-failures.mjs

# An OPFS store in Chromium, the browser SIGKILLed at random moments (20 rounds).
test-browser-crash: build
	node tests/browser/crash.mjs

# larderdb packed and imported by name through Vite (dev server and build,
# on examples/vite-app), webpack, esbuild, Rollup and an import map, each app
# loaded in Chromium (tests/bundlers/run.mjs; built in test-output/bundlers).
test-bundlers: build
	node tests/bundlers/run.mjs

# Benchmarks (bench/README.md). bench/ has its own dev dependencies, installed
# when missing or when its lock changed (the stamp pattern of scripts/setup.sh);
# better-sqlite3 builds with node-gyp against the Node headers in /usr/include/node.
define bench_deps
	@lock_hash=$$(sha256sum bench/package-lock.json | cut -d' ' -f1); \
	if [ "$$(cat bench/node_modules/.larder-lock-hash 2>/dev/null)" != "$$lock_hash" ]; then \
	  echo "bench: installing the benchmark's npm dev dependencies"; \
	  (cd bench && npm_config_nodedir=/usr npm ci --no-audit --no-fund) && \
	  echo "$$lock_hash" > bench/node_modules/.larder-lock-hash; \
	fi
endef

bench: build
	$(bench_deps)
	node bench/run.mjs

bench-browser: build
	$(bench_deps)
	node bench/browser/run.mjs

# The core's cost per operation, natively (core/benches/core.rs), for
# profiling with perf; STORAGE=memory (or file-normal, file-full) runs one.
bench-core: setup
	cargo bench -p larder-core --bench core -- $(STORAGE)

lint: setup
	node scripts/check-sizes.mjs
	cargo fmt --all --check
	cargo clippy -p larder-core --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --all-targets --features test-hooks -- -D warnings
	node_modules/.bin/tsc -p js --noEmit

clean:
	rm -rf target pkg js/wasm test-output
