# bench/lib.sh: what bench/run.sh, bench/grpc/run.sh and their setup
# scripts share. Sourced, not run.

# apt_need TOOL=PACKAGE...: installs, with apt-get, the Debian package of
# every tool that is not on PATH; exits when that needs root and this is
# not root.
apt_need() {
	local pair need=()
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null || need+=("${pair#*=}")
	done
	((${#need[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		echo "setup: missing ${need[*]}: install them with apt-get (needs root)" >&2
		exit 1
	fi
	echo "setup: installing ${need[*]}" >&2
	apt-get update
	apt-get install -y -o DPkg::Lock::Timeout=600 "${need[@]}"
}

# PIDS are the processes a run started; cleanup stops them by PID: TERM,
# then KILL whatever is still there after 5 s. A run sets the traps:
#   trap cleanup EXIT; trap 'exit 130' INT TERM
PIDS=()
cleanup() {
	local pid i
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
udp_port_free() { ! ss -Hlun "sport = :$1" | grep -q .; }

# wait_port polls until something accepts on 127.0.0.1:$1, for 10 s at most.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

# note says something about the run on stderr and in the results file
# (ARGS are the harness's arguments).
ARGS=()
note() {
	echo "run: $*" >&2
	ARGS+=(-note "$*")
}
