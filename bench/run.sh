#!/usr/bin/env bash
# bench/run.sh: benchmark bouncer against NGINX, HAProxy and Caddy in front
# of the same Go backend. See bench/README.md for the method.
#
# Knobs (environment):
#   ROUNDS=5 DURATION=10 WARMUP=2           rounds, seconds measured / warmed
#   TARGETS="direct nginx haproxy caddy bouncer"
#   SCENARIOS="http1-small http1-4k h2-tls tls-handshakes h3"
#   NOISE_MAX=0.2 MAX_RETRY=2 REF=nginx     noise gate and reference
#   REF_H3=caddy                            reference of the h3 scenario
# Results go to bench/results/<UTC time>.md; the summary is printed at the end.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
BIN=$BENCH/.bin
RUN=$BENCH/.run
RESULTS=$BENCH/results
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
TARGETS=${TARGETS:-direct nginx haproxy caddy bouncer}
SCENARIOS=${SCENARIOS:-http1-small http1-4k h2-tls tls-handshakes h3}
NOISE_MAX=${NOISE_MAX:-0.2}
MAX_RETRY=${MAX_RETRY:-2}
REF=${REF:-nginx}
REF_H3=${REF_H3:-caddy}
PROXY_CPU=1 # every target, alone
LOAD_CPU=0  # load generator and backend
BACKEND_H1=18080
BACKEND_TLS=18081

"$BENCH/setup.sh"
mkdir -p "$RUN/nginx-tmp" "$RUN/caddy-data" "$RUN/caddy-config" "$RESULTS"

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

render() { sed "s|@RUN@|$RUN|g" "$BENCH/configs/$1" >"$RUN/$1"; }

# start NAME H1PORT TLSPORT H3 CMD...: starts a target pinned to the proxy
# core and adds it to the harness's targets once both ports accept. H3 is
# "h3" when the target serves HTTP/3 on the UDP side of TLSPORT, else "-".
start() {
	local name=$1 h1=$2 tls=$3 h3=$4 h3arg=
	shift 4
	if ! port_free "$h1" || ! port_free "$tls"; then
		note "$name: skipped: port $h1 or $tls is already in use"
		return
	fi
	if [[ $h3 == h3 ]]; then
		if ! udp_port_free "$tls"; then
			note "$name: skipped: UDP port $tls is already in use"
			return
		fi
		h3arg=",h3=127.0.0.1:$tls"
	fi
	taskset -c "$PROXY_CPU" "$@" >"$RUN/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	if ! wait_port "$h1" || ! wait_port "$tls" || ! kill -0 "$pid" 2>/dev/null; then
		note "$name: skipped: did not start ($(tail -c 300 "$RUN/$name.log" | tr '\n' ' '))"
		return
	fi
	ARGS+=(-target "$name,pid=$pid,h1=127.0.0.1:$h1,tls=127.0.0.1:$tls$h3arg")
}

if ! port_free "$BACKEND_H1" || ! port_free "$BACKEND_TLS"; then
	echo "run: backend port $BACKEND_H1 or $BACKEND_TLS is in use; stop what holds it" >&2
	exit 1
fi
GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/backend" -addr "127.0.0.1:$BACKEND_H1" \
	-tls-addr "127.0.0.1:$BACKEND_TLS" -cert "$RUN/cert.pem" -key "$RUN/key.pem" \
	>"$RUN/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
if ! wait_port "$BACKEND_H1" || ! wait_port "$BACKEND_TLS"; then
	echo "run: backend did not start: $(cat "$RUN/backend.log")" >&2
	exit 1
fi

for t in ${TARGETS//,/ }; do
	case $t in
	direct) ARGS+=(-target "direct,pid=0,h1=127.0.0.1:$BACKEND_H1,tls=127.0.0.1:$BACKEND_TLS") ;;
	nginx)
		render nginx.conf
		start nginx 18111 18112 - nginx -p "$RUN/" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"
		;;
	haproxy)
		render haproxy.cfg
		start haproxy 18121 18122 - haproxy -db -f "$RUN/haproxy.cfg"
		;;
	caddy)
		if [[ ! -x $BIN/caddy ]]; then
			note "caddy: skipped: no binary (see $RUN/caddy-build.log)"
			continue
		fi
		render caddy.json
		start caddy 18131 18132 h3 env GOMAXPROCS=1 XDG_DATA_HOME="$RUN/caddy-data" \
			XDG_CONFIG_HOME="$RUN/caddy-config" "$BIN/caddy" run --config "$RUN/caddy.json"
		;;
	bouncer)
		if [[ ! -x $BIN/bouncer ]]; then
			note "bouncer: skipped: ./cmd/bouncer does not build: $(head -c 300 "$RUN/bouncer-build.log" | tr '\n' ' ')"
			continue
		fi
		render bouncer.yaml
		start bouncer 18181 18182 h3 env GOMAXPROCS=1 "$BIN/bouncer" run -config "$RUN/bouncer.yaml"
		;;
	*) note "$t: skipped: unknown target" ;;
	esac
done

# The head of the results file: when, where, which versions.
{
	echo "# Benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "- bouncer: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -z $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] || echo ' (uncommitted changes)')"
	echo "- nginx: $(nginx -v 2>&1 | sed 's/.*: //'); haproxy: $(haproxy -v | head -1 | awk '{print $3}')"
	echo "- caddy: $([[ -x $BIN/caddy ]] && "$BIN/caddy" version | awk '{print $1}' || echo none); $(go version | awk '{print $3}')"
	echo "- wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}'); h2load: $(h2load --version | awk '{print $2}')"
	echo "- tlsload, h3load: bench/loadgen (quic-go $(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/quic-go/quic-go))"
	echo "- pinning: targets on CPU $PROXY_CPU, load generator + backend on CPU $LOAD_CPU"
} >"$RUN/meta.md"

OUT=$RESULTS/$(date -u +%Y%m%d-%H%M%S).md
GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/harness" "${ARGS[@]}" \
	-scenarios "${SCENARIOS// /,}" -rounds "$ROUNDS" -duration "${DURATION}s" -warmup "${WARMUP}s" \
	-noise-max "$NOISE_MAX" -max-retry "$MAX_RETRY" -ref "$REF" -ref-h3 "$REF_H3" \
	-proxy-cpu "$PROXY_CPU" -load-cpu "$LOAD_CPU" -backend-pid "$BACKEND_PID" \
	-ca "$RUN/cert.pem" -meta "$RUN/meta.md" -out "$OUT"
