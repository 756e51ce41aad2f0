#!/usr/bin/env bash
# bench/grpc/setup.sh: installs what bench/grpc needs (Debian packages; needs
# root when something is missing), builds the protoc plugins and ghz at
# pinned versions, generates grpc-gateway's code for the library sample with protoc,
# and builds the backend, the harness, grpc-gateway and Bouncer into
# bench/.bin/. bench/grpc/run.sh calls it; it only redoes what is missing or
# stale, except Bouncer, which is rebuilt every time.
set -euo pipefail

GRPC=$(cd "$(dirname "$0")" && pwd)
BENCH=$(dirname "$GRPC")
ROOT=$(dirname "$BENCH")
BIN=$BENCH/.bin
RUN=$BENCH/.run/grpc
mkdir -p "$BIN" "$RUN"

# Versions of the code generators: protoc-gen-go is the protobuf module's
# (as in go.mod), protoc-gen-grpc-gateway grpc-gateway's own. GHZ is the
# gRPC load generator of grpc-unary-ghz (its latest tag; builds with Go 1.26).
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2
GRPC_GATEWAY=v2.33.0
GHZ=v0.121.0

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
apt_need protoc=protobuf-compiler nginx=nginx-light haproxy=haproxy wrk=wrk h2load=nghttp2-client taskset=util-linux

# plugin NAME PACKAGE VERSION: go install, once per version (the protoc
# plugins and ghz).
plugin() {
	if [[ ! -x $BIN/$1 || ! -e $BIN/.$1-$3 ]]; then
		echo "setup: building $1 $3" >&2
		GOBIN=$BIN go install "$2@$3"
		rm -f "$BIN/.$1-"*
		touch "$BIN/.$1-$3"
	fi
}
plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO"
plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC"
plugin protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway "$GRPC_GATEWAY"
plugin ghz github.com/bojand/ghz/cmd/ghz "$GHZ"

# grpc-gateway's code, generated again when a .proto or a plugin is newer.
# protoc finds google/protobuf/*.proto in /usr/include (protobuf-compiler)
# and the other imports (google/api, buf/validate) in a descriptor set that
# protodeps writes from the descriptors embedded in transcode/sample.
GW=$GRPC/gateway
PROTO=$ROOT/testdata/proto
MOD=github.com/bouncer-proxy/bouncer/bench/grpc/gateway
stamp=$GW/librarypb/library.pb.gw.go
if [[ ! -s $stamp ]] || [[ -n $(find "$PROTO/bouncer/library/v1" "$BIN"/protoc-gen-* "$ROOT/transcode/sample/library.protoset" -newer "$stamp" 2>/dev/null) ]]; then
	echo "setup: generating grpc-gateway code with protoc" >&2
	(cd "$ROOT" && go run ./bench/grpc/protodeps -out "$RUN/deps.pb")
	rm -rf "$GW/librarypb"
	mkdir -p "$GW/librarypb"
	opt="Mbouncer/library/v1/library.proto=$MOD/librarypb,Mbouncer/library/v1/everything.proto=$MOD/librarypb,module=$MOD"
	PATH=$BIN:$PATH protoc -I "$PROTO" -I /usr/include --descriptor_set_in="$RUN/deps.pb" \
		--go_out="$GW" --go_opt="$opt" --go-grpc_out="$GW" --go-grpc_opt="$opt" \
		--grpc-gateway_out="$GW" --grpc-gateway_opt="$opt" \
		bouncer/library/v1/library.proto bouncer/library/v1/everything.proto
fi

echo "setup: building grpc-backend, grpc-harness and grpc-gateway" >&2
(cd "$ROOT" && go build -o "$BIN/grpc-backend" ./bench/grpc/backend && go build -o "$BIN/grpc-harness" ./bench/grpc/harness)
(cd "$GW" && go build -o "$BIN/grpc-gateway" .)

# Bouncer: rebuilt every time from the work tree; a failed build only skips
# the bouncer targets (run.sh says why). Its own name: bench/run.sh rebuilds
# bench/.bin/bouncer and may run at the same time.
rm -f "$BIN/bouncer-grpc"
echo "setup: building bouncer" >&2
if ! (cd "$ROOT" && go build -o "$BIN/bouncer-grpc" ./cmd/bouncer) >"$RUN/bouncer-build.log" 2>&1; then
	rm -f "$BIN/bouncer-grpc"
	echo "setup: bouncer does not build (see $RUN/bouncer-build.log); it will be skipped" >&2
fi
