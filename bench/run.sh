#!/usr/bin/env bash
# bench/run.sh: benchmark bouncer against NGINX, HAProxy and Caddy in front
# of the same Go backend. See bench/README.md for the method.
#
# Knobs (environment):
#   ROUNDS=5 DURATION=10 WARMUP=2           rounds, seconds measured / warmed
#   TARGETS="direct nginx haproxy caddy bouncer"
#   SCENARIOS="http1-small http1-4k h2-tls tls-handshakes h3 tcp-throughput tcp-connrate
#              http1-policies http1-cache"
#   NOISE_MAX=0.2 MAX_RETRY=2 REF=nginx     noise gate and reference
#   REF_H3=caddy                            reference of the h3 scenario
#   REDIS=1                                 0: no Redis, no bouncer/redis row in http1-policies
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
SCENARIOS=${SCENARIOS:-http1-small http1-4k h2-tls tls-handshakes h3 tcp-throughput tcp-connrate http1-policies http1-cache}
NOISE_MAX=${NOISE_MAX:-0.2}
MAX_RETRY=${MAX_RETRY:-2}
REF=${REF:-nginx}
REF_H3=${REF_H3:-caddy}
REDIS=${REDIS:-1}
PROXY_CPU=1 # every target, alone
LOAD_CPU=0  # load generator and backend
BACKEND_H1=18080
BACKEND_TLS=18081
BACKEND_SRC=18082                  # TCP source
BACKEND_ECHO=(18083 18084 18085 18086) # TCP echo; proxies round-robin over the four
REDIS_PORT=18190                   # Redis for bouncer's limit-redis policy (configs/bouncer.yaml)

"$BENCH/setup.sh"
# NGINX's cache starts empty every run (the check pass fills it).
rm -rf "$RUN/nginx-cache" "$RUN/redis"
mkdir -p "$RUN/nginx-tmp" "$RUN/nginx-cache" "$RUN/redis" "$RUN/caddy-data" "$RUN/caddy-config" "$RESULTS"

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

render() { sed "s|@RUN@|$RUN|g" "$BENCH/configs/$1" >"$RUN/$1"; }

# start NAME H1PORT TLSPORT H3 SRCPORT ECHOPORT MORE CMD...: starts a target
# pinned to the proxy core and adds it to the harness's targets once all its
# TCP ports accept. H3 is "h3" when the target serves HTTP/3 on the UDP side
# of TLSPORT, else "-"; SRCPORT and ECHOPORT are its raw TCP listeners to
# the backend's TCP source and echo ports; MORE is "-" or more listener keys
# of its -target flag (",cache=host:port": the API-policy scenarios).
start() {
	local name=$1 h1=$2 tls=$3 h3=$4 src=$5 echo=$6 more=${7#-} h3arg= p
	shift 7
	for p in "$h1" "$tls" "$src" "$echo"; do
		if ! port_free "$p"; then
			note "$name: skipped: port $p is already in use"
			return
		fi
	done
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
	if ! wait_port "$h1" || ! wait_port "$tls" || ! wait_port "$src" || ! wait_port "$echo" ||
		! kill -0 "$pid" 2>/dev/null; then
		note "$name: skipped: did not start ($(tail -c 300 "$RUN/$name.log" | tr '\n' ' '))"
		return
	fi
	ARGS+=(-target "$name,pid=$pid,h1=127.0.0.1:$h1,tls=127.0.0.1:$tls$h3arg,tcpsrc=127.0.0.1:$src,tcpecho=127.0.0.1:$echo$more")
}

# startRedis starts the Redis server of bouncer's limit-redis policy on the
# load core (no persistence, loopback only) and counts its CPU with the
# backend's (-aux-pid). It sets REDIS_UP=1 when Redis answers.
REDIS_UP=0
startRedis() {
	if ! command -v redis-server >/dev/null; then
		note "redis: skipped: no redis-server (Debian package redis-server)"
		return
	fi
	if ! port_free "$REDIS_PORT"; then
		note "redis: skipped: port $REDIS_PORT is already in use"
		return
	fi
	taskset -c "$LOAD_CPU" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir "$RUN/redis" --daemonize no >"$RUN/redis.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	if ! wait_port "$REDIS_PORT" || ! kill -0 "$pid" 2>/dev/null; then
		note "redis: skipped: did not start ($(tail -c 300 "$RUN/redis.log" | tr '\n' ' '))"
		return
	fi
	ARGS+=(-aux-pid "$pid")
	REDIS_UP=1
}

for p in "$BACKEND_H1" "$BACKEND_TLS" "$BACKEND_SRC" "${BACKEND_ECHO[@]}"; do
	if ! port_free "$p"; then
		echo "run: backend port $p is in use; stop what holds it" >&2
		exit 1
	fi
done
echoes=$(printf '127.0.0.1:%s,' "${BACKEND_ECHO[@]}")
GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/backend" -addr "127.0.0.1:$BACKEND_H1" \
	-tls-addr "127.0.0.1:$BACKEND_TLS" -cert "$RUN/cert.pem" -key "$RUN/key.pem" \
	-tcp-source "127.0.0.1:$BACKEND_SRC" -tcp-echo "${echoes%,}" \
	>"$RUN/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
if ! wait_port "$BACKEND_H1" || ! wait_port "$BACKEND_TLS" || ! wait_port "$BACKEND_SRC" ||
	! wait_port "${BACKEND_ECHO[0]}"; then
	echo "run: backend did not start: $(cat "$RUN/backend.log")" >&2
	exit 1
fi

# Redis only for what uses it: bouncer's limit-redis route in http1-policies.
if [[ $REDIS == 1 && " ${TARGETS//,/ } " == *" bouncer "* && " ${SCENARIOS//,/ } " == *" http1-policies "* ]]; then
	startRedis
fi

for t in ${TARGETS//,/ }; do
	case $t in
	direct)
		# The direct echo is one of the four ports: tcpload spreads its own
		# connections over 16 source addresses instead.
		ARGS+=(-target "direct,pid=0,h1=127.0.0.1:$BACKEND_H1,tls=127.0.0.1:$BACKEND_TLS,tcpsrc=127.0.0.1:$BACKEND_SRC,tcpecho=127.0.0.1:${BACKEND_ECHO[0]}")
		;;
	nginx)
		render nginx.conf
		start nginx 18111 18112 - 18113 18114 ",cache=127.0.0.1:18111" nginx -p "$RUN/" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"
		;;
	haproxy)
		render haproxy.cfg
		start haproxy 18121 18122 - 18123 18124 - haproxy -db -f "$RUN/haproxy.cfg"
		;;
	caddy)
		if [[ ! -x $BIN/caddy ]]; then
			note "caddy: skipped: no binary (see $RUN/caddy-build.log)"
			continue
		fi
		render caddy.json
		start caddy 18131 18132 h3 18133 18134 - env GOMAXPROCS=1 XDG_DATA_HOME="$RUN/caddy-data" \
			XDG_CONFIG_HOME="$RUN/caddy-config" "$BIN/caddy" run --config "$RUN/caddy.json"
		;;
	bouncer)
		if [[ ! -x $BIN/bouncer ]]; then
			note "bouncer: skipped: ./cmd/bouncer does not build: $(head -c 300 "$RUN/bouncer-build.log" | tr '\n' ' ')"
			continue
		fi
		render bouncer.yaml
		# The policy routes (pol, and polredis when Redis is up) and the
		# cache are on the plain HTTP/1.1 listener.
		more=",pol=127.0.0.1:18181,cache=127.0.0.1:18181"
		[[ $REDIS_UP == 1 ]] && more+=",polredis=127.0.0.1:18181"
		start bouncer 18181 18182 h3 18183 18184 "$more" env GOMAXPROCS=1 "$BIN/bouncer" run -config "$RUN/bouncer.yaml"
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
	echo "- caddy-l4: $(cd "$BENCH/caddy" && go list -m -f '{{.Version}}' github.com/mholt/caddy-l4); tcpload: bench/loadgen"
	[[ $REDIS_UP == 1 ]] && echo "- redis: $(redis-server --version | awk '{print $3}' | sed 's/v=//') on CPU $LOAD_CPU, port $REDIS_PORT"
	echo "- tlsload, h3load: bench/loadgen (quic-go $(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/quic-go/quic-go))"
	echo "- pinning: targets on CPU $PROXY_CPU, load generator + backend on CPU $LOAD_CPU"
} >"$RUN/meta.md"

OUT=$RESULTS/$(date -u +%Y%m%d-%H%M%S).md
GOMAXPROCS=1 taskset -c "$LOAD_CPU" "$BIN/harness" "${ARGS[@]}" \
	-scenarios "${SCENARIOS// /,}" -rounds "$ROUNDS" -duration "${DURATION}s" -warmup "${WARMUP}s" \
	-noise-max "$NOISE_MAX" -max-retry "$MAX_RETRY" -ref "$REF" -ref-h3 "$REF_H3" \
	-proxy-cpu "$PROXY_CPU" -load-cpu "$LOAD_CPU" -backend-pid "$BACKEND_PID" \
	-jwt-token "$RUN/jwt-token" -ca "$RUN/cert.pem" -meta "$RUN/meta.md" -out "$OUT"
