#!/usr/bin/env bash
# bench/setup.sh: installs the load generators and peers (Debian packages),
# builds the backend, the harness, Caddy and Bouncer into bench/.bin/, and
# makes the ECDSA P-256 certificate every TLS listener serves, in bench/.run/.
# bench/run.sh calls it; it is safe to run again (it only redoes what is
# missing or stale, except Bouncer, which is rebuilt every time).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BIN=$BENCH/.bin
RUN=$BENCH/.run
mkdir -p "$BIN" "$RUN"

# Debian packages, installed only when a tool is missing.
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v taskset >/dev/null || need+=(util-linux)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
	if [[ $(id -u) != 0 ]]; then
		echo "setup: missing ${need[*]}: install them with apt-get (needs root)" >&2
		exit 1
	fi
	echo "setup: installing ${need[*]}" >&2
	apt-get update
	apt-get install -y -o DPkg::Lock::Timeout=600 "${need[@]}"
fi

echo "setup: building backend and harness" >&2
(cd "$ROOT" && go build -o "$BIN/backend" ./bench/backend && go build -o "$BIN/harness" ./bench/harness)

# Caddy: its own module in bench/caddy (pinned in its go.mod); rebuilt when
# that module changes. A failed build only skips the caddy target.
if [[ ! -x $BIN/caddy || $BENCH/caddy/go.mod -nt $BIN/caddy || $BENCH/caddy/main.go -nt $BIN/caddy ]]; then
	echo "setup: building caddy (first time takes minutes)" >&2
	if ! (cd "$BENCH/caddy" && go build -o "$BIN/caddy" .) >"$RUN/caddy-build.log" 2>&1; then
		rm -f "$BIN/caddy"
		echo "setup: caddy does not build (see $RUN/caddy-build.log); it will be skipped" >&2
	fi
fi

# Bouncer: rebuilt every time from the work tree. A failed build only skips
# the bouncer target; run.sh reports why.
rm -f "$BIN/bouncer"
echo "setup: building bouncer" >&2
if ! (cd "$ROOT" && go build -o "$BIN/bouncer" ./cmd/bouncer) >"$RUN/bouncer-build.log" 2>&1; then
	rm -f "$BIN/bouncer"
	echo "setup: bouncer does not build (see $RUN/bouncer-build.log); it will be skipped" >&2
fi

# One ECDSA P-256 certificate for every TLS listener (valid for localhost
# and 127.0.0.1); HAProxy wants certificate and key in one file.
if [[ ! -s $RUN/cert.pem || ! -s $RUN/key.pem ]]; then
	echo "setup: making the certificate" >&2
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$RUN/key.pem" -out "$RUN/cert.pem" -days 365 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
fi
cat "$RUN/cert.pem" "$RUN/key.pem" >"$RUN/combined.pem"
