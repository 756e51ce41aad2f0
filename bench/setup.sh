#!/usr/bin/env bash
# bench/setup.sh: installs the load generators and peers (Debian packages),
# builds the backend, the harness, the Go load generators (tlsload, h3load,
# tcpload), Caddy (with caddy-l4) and Bouncer into bench/.bin/, and makes the
# ECDSA P-256 certificate every TLS listener serves and, every run, the JWT
# key and token of http1-policies (bench/jwtgen), in bench/.run/.
# bench/run.sh calls it; it is safe to run again (it only redoes what is
# missing or stale, except Bouncer, which is rebuilt every time).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BIN=$BENCH/.bin
RUN=$BENCH/.run
mkdir -p "$BIN" "$RUN"

# Debian packages, installed only when a tool is missing.
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
apt_need nginx=nginx-light haproxy=haproxy wrk=wrk h2load=nghttp2-client taskset=util-linux openssl=openssl \
	redis-server=redis-server
# NGINX's stream module (tcp-* scenarios) is a dynamic module of its own package.
if [[ ! -f /usr/lib/nginx/modules/ngx_stream_module.so ]]; then
	[[ $(id -u) == 0 ]] || { echo "setup: missing libnginx-mod-stream: install it with apt-get (needs root)" >&2; exit 1; }
	apt-get install -y -o DPkg::Lock::Timeout=600 libnginx-mod-stream
fi

echo "setup: building backend, harness and the Go load generators" >&2
(cd "$ROOT" && go build -o "$BIN/backend" ./bench/backend && go build -o "$BIN/harness" ./bench/harness &&
	go build -o "$BIN/tlsload" ./bench/loadgen/tlsload && go build -o "$BIN/h3load" ./bench/loadgen/h3load &&
	go build -o "$BIN/tcpload" ./bench/loadgen/tcpload && go build -o "$BIN/jwtgen" ./bench/jwtgen)

# http1-policies: a fresh ES256 key and a token valid for a day, every run.
"$BIN/jwtgen" -dir "$RUN"

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
