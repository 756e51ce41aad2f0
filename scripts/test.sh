#!/usr/bin/env bash
# Runs every test of Bouncer: go vet, then `go test -race` on all packages.
# It installs what the tests need when it is missing and says so:
#   h2spec (HTTP/2 conformance suite), with `go install` into .bin/;
#   node (checks the OpenAPI docs page's script), with apt-get when root;
#   redis-server (shared certificate storage), pebble (an ACME test CA) and
#   bind9 (a DNS server for DNS-01), with apt-get when root. Tests start
#   their own instances on loopback.
# Needs Go 1.26 and access to the Go module proxy on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.bin:$PATH"

if ! command -v h2spec >/dev/null 2>&1; then
  echo "scripts/test.sh: installing h2spec into .bin/ (go install, about a minute the first time)"
  GOBIN="$PWD/.bin" go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
fi

if ! command -v node >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: installing nodejs (apt-get) for the docs page's script check"
    apt-get install -y -qq nodejs >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs >/dev/null; }
  else
    echo "scripts/test.sh: node is missing and cannot be installed here (not root or no apt-get); TestDocsScript will skip, or fail under CI"
  fi
fi

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v pebble >/dev/null 2>&1 || need_apt+=(pebble)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need_apt+=(bind9)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: installing ${need_apt[*]} (apt-get) for the Redis storage, ACME and DNS-01 tests"
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need_apt[@]}" >/dev/null ||
      { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${need_apt[@]}" >/dev/null; }
  else
    echo "scripts/test.sh: ${need_apt[*]} missing and cannot be installed here (not root or no apt-get); the tests that need them will skip, or fail under CI"
  fi
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*'))
if [ -n "$unformatted" ]; then
  echo "scripts/test.sh: gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -race -count=1 -timeout 15m "$@" ./...
# The 0-RTT tests are built without -race (see l7/h3/early_test.go).
go test -count=1 -run 'EarlyData' "$@" ./l7/h3/
