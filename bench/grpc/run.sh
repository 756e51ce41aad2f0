#!/usr/bin/env bash
# bench/grpc/run.sh: REST-to-gRPC transcoding (Bouncer vs grpc-gateway) and
# native gRPC proxying (Bouncer vs HAProxy and NGINX) in front of one gRPC
# backend. Same method as bench/run.sh; see "gRPC and transcoding" in
# bench/README.md.
#
# Knobs (environment):
#   ROUNDS=5 DURATION=10 WARMUP=2           rounds, seconds measured / warmed
#   TARGETS="direct grpc-gateway haproxy nginx bouncer bouncer-proxy"
#   SCENARIOS="rest-get rest-post grpc-unary grpc-unary-ghz"
#   NOISE_MAX=0.2 MAX_RETRY=2               noise gate
#   REST_REF=grpc-gateway GRPC_REF=haproxy  references of the ratios
#   GATEWAY_EMIT_UNPOPULATED=false          true: grpc-gateway's own default
#                                           JSON (every field written)
# Results go to bench/results/grpc-<UTC time>.md; the summary is printed.
set -euo pipefail

GRPC=$(cd "$(dirname "$0")" && pwd)
BENCH=$(dirname "$GRPC")
ROOT=$(dirname "$BENCH")
BIN=$BENCH/.bin
RUN=$BENCH/.run/grpc
RESULTS=$BENCH/results
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
TARGETS=${TARGETS:-direct grpc-gateway haproxy nginx bouncer bouncer-proxy}
SCENARIOS=${SCENARIOS:-rest-get rest-post grpc-unary grpc-unary-ghz}
NOISE_MAX=${NOISE_MAX:-0.2}
MAX_RETRY=${MAX_RETRY:-2}
REST_REF=${REST_REF:-grpc-gateway}
GRPC_REF=${GRPC_REF:-haproxy}
GATEWAY_EMIT_UNPOPULATED=${GATEWAY_EMIT_UNPOPULATED:-false}
PROXY_CPU=1 # every target, alone
LOAD_CPU=0  # load generator and backend
BACKEND=18200

"$GRPC/setup.sh"
mkdir -p "$RUN/nginx-tmp" "$RESULTS"

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME PORT SPEC CMD...: starts a target pinned to the proxy core and
# adds it to the harness's targets (SPEC: its rest=/grpc= listeners) once
# PORT accepts.
start() {
	local name=$1 port=$2 spec=$3
	shift 3
	if ! port_free "$port"; then
		note "$name: skipped: port $port is already in use"
		return
	fi
	taskset -c "$PROXY_CPU" "$@" >"$RUN/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	if ! wait_port "$port" || ! kill -0 "$pid" 2>/dev/null; then
		note "$name: skipped: did not start ($(tail -c 300 "$RUN/$name.log" | tr '\n' ' '))"
		return
	fi
	ARGS+=(-target "$name,pid=$pid,$spec")
}

if ! port_free "$BACKEND"; then
	echo "run: backend port $BACKEND is in use; stop what holds it" >&2
	exit 1
fi
GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/grpc-backend" -addr "127.0.0.1:$BACKEND" >"$RUN/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
if ! wait_port "$BACKEND"; then
	echo "run: backend did not start: $(cat "$RUN/backend.log")" >&2
	exit 1
fi

for t in ${TARGETS//,/ }; do
	case $t in
	direct) ARGS+=(-target "direct,pid=0,grpc=127.0.0.1:$BACKEND") ;;
	grpc-gateway)
		start grpc-gateway 18211 rest=127.0.0.1:18211 env GOMAXPROCS=1 "$BIN/grpc-gateway" \
			-addr 127.0.0.1:18211 -backend "127.0.0.1:$BACKEND" -emit-unpopulated="$GATEWAY_EMIT_UNPOPULATED"
		;;
	haproxy) start haproxy 18221 grpc=127.0.0.1:18221 haproxy -db -f "$GRPC/configs/haproxy.cfg" ;;
	nginx)
		sed "s|@RUN@|$RUN|g" "$GRPC/configs/nginx.conf" >"$RUN/nginx.conf"
		start nginx 18231 grpc=127.0.0.1:18231 nginx -p "$RUN/" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"
		;;
	bouncer | bouncer-proxy)
		if [[ ! -x $BIN/bouncer-grpc ]]; then
			note "$t: skipped: ./cmd/bouncer does not build: $(head -c 300 "$RUN/bouncer-build.log" | tr '\n' ' ')"
			continue
		fi
		if [[ $t == bouncer ]]; then
			spec="rest=127.0.0.1:18281,grpc=127.0.0.1:18281" port=18281
		else
			spec="grpc=127.0.0.1:18291" port=18291
		fi
		start "$t" "$port" "$spec" env GOMAXPROCS=1 "$BIN/bouncer-grpc" run -config "$GRPC/configs/$t.yaml"
		;;
	*) note "$t: skipped: unknown target" ;;
	esac
done

{
	echo "# gRPC benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "- bouncer: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -z $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] || echo ' (uncommitted changes)')"
	echo "- grpc-gateway: $(grep -m1 grpc-gateway/v2 "$GRPC/gateway/go.mod" | awk '{print $2}') (emit_unpopulated=$GATEWAY_EMIT_UNPOPULATED); $(protoc --version); $(go version | awk '{print $3}')"
	echo "- nginx: $(nginx -v 2>&1 | sed 's/.*: //'); haproxy: $(haproxy -v | head -1 | awk '{print $3}')"
	echo "- wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}'); h2load: $(h2load --version | awk '{print $2}'); ghz: $(sed -n 's/^GHZ=//p' "$GRPC/setup.sh")"
	echo "- pinning: targets on CPU $PROXY_CPU, load generator + backend on CPU $LOAD_CPU"
} >"$RUN/meta.md"

OUT=$RESULTS/grpc-$(date -u +%Y%m%d-%H%M%S).md
# PATH: the harness runs ghz by name, from bench/.bin.
PATH=$BIN:$PATH GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/grpc-harness" "${ARGS[@]}" \
	-scenarios "${SCENARIOS// /,}" -rounds "$ROUNDS" -duration "${DURATION}s" -warmup "${WARMUP}s" \
	-noise-max "$NOISE_MAX" -max-retry "$MAX_RETRY" -rest-ref "$REST_REF" -grpc-ref "$GRPC_REF" \
	-proxy-cpu "$PROXY_CPU" -load-cpu "$LOAD_CPU" -backend-pid "$BACKEND_PID" \
	-work "$RUN" -meta "$RUN/meta.md" -out "$OUT"
