#!/usr/bin/env bash
# Installs what building and testing larder needs, skipping whatever is
# already present, so a second run takes seconds. Debian 12, as root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

wasm_bindgen_version=$(sed -n 's/^wasm-bindgen = "=\([^"]*\)".*/\1/p' Cargo.toml)
[ -n "$wasm_bindgen_version" ] || { echo "setup: Cargo.toml must pin wasm-bindgen with =" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

apt_packages=()
command -v clang >/dev/null || apt_packages+=(clang)
# The persistence tests check database files with the sqlite3 CLI.
command -v sqlite3 >/dev/null || apt_packages+=(sqlite3)
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
[ -x /usr/bin/chromedriver ] || apt_packages+=(chromium-driver)
# The two-tier cache test runs its own redis-server (no system service).
command -v redis-server >/dev/null || apt_packages+=(redis-server)
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "installing ${apt_packages[*]} from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_packages[@]}"
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  say "installing wasm-bindgen-cli $wasm_bindgen_version"
  # Not --locked: some of its locked dependency versions are not in the registry here.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi
if ! command -v wasm-pack >/dev/null; then
  say "installing wasm-pack"
  cargo install wasm-pack
fi

# `npm ci` in directory $1 (with any further npm flags), when its lock has
# changed since the last install there.
npm_ci_when_changed() {
  local dir=$1 lock_hash
  shift
  lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.larder-lock-hash" 2>/dev/null)" != "$lock_hash" ]; then
    say "installing the npm dependencies of $dir"
    (cd "$dir" && npm ci --no-audit --no-fund "$@")
    echo "$lock_hash" > "$dir/node_modules/.larder-lock-hash"
  fi
}
npm_ci_when_changed .
# keyv's adapter suite, with vitest and keyv. Its sqlite3 dependency (a
# native build) is never loaded by the suite, so install scripts are skipped.
npm_ci_when_changed tests/keyv --ignore-scripts
# cacheable, @keyv/redis and keyv, as an application using the example has them.
npm_ci_when_changed examples/two-tier-redis
say "ready"
