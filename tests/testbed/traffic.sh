# Sourced, not run: iperf3 and udpblast traffic on the testbed (testbed/testbed.h), and the agent's
# API. Needs $TOP (the source tree), $TESTBED (the dbavm-testbed tool), $dir (a scratch
# directory) and $api (the agent's base URL) set by the caller; $UDPBLAST for the blast_
# functions.

# What an EXIT trap does first: stop $agent (if any) and remove the testbed.
testbed_cleanup() {
	[ -z "${agent:-}" ] || { kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null; } || true
	"$TESTBED" down 2>/dev/null || true
}

# A test's start (check.sh sourced first): a scratch $dir, no agent yet, and traps that, on
# exit, error and signal, stop the agent and the pids in $extra_pids, remove the testbed, show
# the agent's last LINES of log if a check failed, and remove $dir.
test_start() { # NAME LINES
	dir=$(mktemp -d "/tmp/dbavm-$1-XXXXXX")
	agent=""
	extra_pids=""
	_test_log_lines=$2
	trap test_cleanup EXIT
	trap 'exit 1' HUP INT PIPE TERM
}
test_cleanup() {
	# shellcheck disable=SC2086 # a list of pids
	# (|| true: under set -e a pid that has already gone would end the trap here, and leave
	# the testbed and the scratch directory behind.)
	[ -z "$extra_pids" ] || kill $extra_pids 2>/dev/null || true
	testbed_cleanup
	check_log_on_failure "$dir/agent.log" "$_test_log_lines"
	rm -rf "$dir"
}

# A benchmark's start: a scratch $dir, no agent yet, and traps that stop the agent and remove
# the testbed and $dir on exit, error and signal.
bench_start() {
	dir=$(mktemp -d /tmp/dbavm-bench-XXXXXX)
	agent=""
	trap 'testbed_cleanup; rm -rf "$dir"' EXIT
	trap 'exit 1' HUP INT PIPE TERM
}

# udpblast: a sink for VM i on the sink namespace for SECONDS, counting into $dir/rx<i>; VM i
# sending PAYLOAD-byte datagrams at BPS for SECONDS, into $dir/tx<i>. The pid in $blast_pid.
blast_recv() { # I SECONDS
	ip netns exec dbavm-sink timeout $(($2 + 10)) "$UDPBLAST" recv "52$1" "$2" >"$dir/rx$1" &
	blast_pid=$!
	sink_listening -u "52$1"
}
blast_send() { # I PAYLOAD SECONDS BPS
	ip netns exec "dbavm-vm$1" timeout $(($3 + 10)) "$UDPBLAST" send 198.18.0.254 "52$1" "$2" \
		"$3" "$4" >"$dir/tx$1" &
	blast_pid=$!
}

# Waits until the sink namespace listens on every PORT given, TCP (iperf3's control
# connection, nginx) or, after -u, UDP (udpblast), at most 10 s: a fixed sleep was once too
# short on a loaded machine.
sink_listening() { # [-u] PORT...
	_proto=t
	if [ "$1" = -u ]; then
		_proto=u
		shift
	fi
	for _p in "$@"; do
		_n=0
		until ip netns exec dbavm-sink ss -Hln"$_proto" "sport = :$_p" | grep -q .; do
			_n=$((_n + 1))
			if [ "$_n" -ge 200 ]; then
				echo "the sink does not listen on port $_p after 10 s" >&2
				return 1
			fi
			sleep 0.05
		done
	done
}

# A UDP sink for VM i on the sink namespace, one test, JSON; returns once it listens.
traffic_serve() {
	ip netns exec dbavm-sink iperf3 -s -p "52$1" -D -1 -J --logfile "$dir/srv$1.json"
	sink_listening "52$1"
}

# VM i sends UDP at RATE (iperf3 -b, payload bits) with PAYLOAD bytes for SECONDS.
traffic_send() {
	ip netns exec "dbavm-vm$1" timeout $(($4 + 10)) iperf3 -c 198.18.0.254 -p "52$1" -u \
		-b "$2" -l "$3" -t "$4" -J --get-server-output >"$dir/cli$1.json" 2>/dev/null
}

# VMs 1, 2 and 3 each start a sink server and then send at once, for SECONDS:
#   traffic_start3 PAYLOAD1 PAYLOAD2 PAYLOAD3 RATE1 RATE2 RATE3 SECONDS
# The senders' pids are left in $traffic_pids, for `wait $traffic_pids`.
traffic_start3() {
	for i in 1 2 3; do traffic_serve "$i"; done
	traffic_send 1 "$4" "$1" "$7" &
	traffic_pids=$!
	traffic_send 2 "$5" "$2" "$7" &
	traffic_pids="$traffic_pids $!"
	traffic_send 3 "$6" "$3" "$7" &
	traffic_pids="$traffic_pids $!"
}

# What the sink received from VM i, per second, and what VM i sent, as iperf3 counts them.
traffic_recv_pps() { jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds' "$dir/cli$1.json"; }
# The median of the sink's per-second received rates (iperf3's server intervals) from second
# FROM to the end of the run, a last part-second left out: what a rate sampled in steady
# state is compared with. Not the run's mean: a sender behind on a loaded machine ends late,
# which inflates it.
traffic_recv_pps_median() { # I FROM
	jq --argjson from "$2" '[.server_output_json.intervals[].sum
		| select(.start >= $from - 0.01 and .seconds >= 0.5)
		| (.packets - .lost_packets) / .seconds] | sort
		| if length == 0 then empty else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end' \
		"$dir/cli$1.json"
}
traffic_recv_pkts() { jq '.end.sum.packets - .end.sum.lost_packets' "$dir/cli$1.json"; }
traffic_sent_pps() { jq '.end.sum.packets / .end.sum.seconds' "$dir/cli$1.json"; }

# ---- What a VM receives: the sink sends to an iperf3 server in the VM ----
# An iperf3 server in VM I for one test on port 55I (the sink sends to it). The pid is left.
vm_serve() { # I SECONDS
	# -J: the client's --get-server-output then carries the VM's intervals as JSON
	ip netns exec "dbavm-vm$1" timeout $(($2 + 15)) iperf3 -s -1 -J -p "55$1" >/dev/null 2>&1 &
	_n=0
	until ip netns exec "dbavm-vm$1" ss -Hlnt "sport = :55$1" | grep -q .; do
		_n=$((_n + 1))
		if [ "$_n" -ge 200 ]; then
			echo "no iperf3 server listens in vm$1 after 10 s" >&2
			return 1
		fi
		sleep 0.05
	done
}
# The sink sends TCP to VM I for SECONDS with FLOWS flows, paced at RATE (payload bits, each
# flow: iperf3 paces per stream) if given; JSON in $dir/in_tcpI.json.
tcp_to() { # I SECONDS FLOWS [RATE]
	vm_serve "$1" "$2" || return 1
	ip netns exec dbavm-sink timeout $(($2 + 10)) iperf3 -c "198.18.0.$1" -p "55$1" -t "$2" \
		-P "$3" ${4:+-b "$4"} --connect-timeout 1000 -J >"$dir/in_tcp$1.json" 2>/dev/null ||
		true
}
# The sink sends UDP to VM I at RATE (payload bits) in PAYLOAD-byte datagrams for SECONDS;
# JSON (with the VM's own per-second intervals) in $dir/in_udpI.json.
udp_to() { # I RATE PAYLOAD SECONDS
	vm_serve "$1" "$4" || return 1
	ip netns exec dbavm-sink timeout $(($4 + 10)) iperf3 -c "198.18.0.$1" -p "55$1" -u \
		-b "$2" -l "$3" -t "$4" -J --get-server-output >"$dir/in_udp$1.json" 2>/dev/null ||
		true
}
# TCP goodput the VM received, as frames on the wire (bit/s); empty when iperf3 said nothing.
tcp_frames() { # FILE [JQ PATH]
	jq -e "${2:-.end.sum_received}.bits_per_second * 1514 / 1448" "$1" 2>/dev/null || true
}
# The median of the VM's per-second received UDP rates from second 2 on, as frames (the first
# second holds the start of the flood, before a period has measured it).
udp_frames_median() { # I PAYLOAD
	jq --argjson l "$2" '[.server_output_json.intervals[].sum
		| select(.start >= 1.99 and .seconds >= 0.5) | .bits_per_second * ($l + 42) / $l]
		| sort | if length == 0 then empty else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end' \
		"$dir/in_udp$1.json" 2>/dev/null || true
}
# PUT an SLA with min = max = BPS and max_pps = PPS, as the paper's VMs require.
api_put_sla() {
	curl -sf -o /dev/null -X PUT "$api/vms/$1/sla" -H "Authorization: Bearer $(cat "$dir/token")" \
		-H 'Content-Type: application/json' \
		-d "{\"priority\":1,\"bandwidth\":{\"min_bps\":$2,\"max_bps\":$2},\"packet_rate\":{\"min_pps\":0,\"max_pps\":$3}}"
}

# Starts dbavmd on the testbed (netns; netfront unless ENFORCER is given) with a token in
# $dir; sets $agent.
agent_start_netns() { # DBAVMD UPLINK_BPS HOST_PPS PORT [ENFORCER [MORE FLAGS...]]
	printf 's3cret0123456789\n' >"$dir/token"
	chmod 600 "$dir/token"
	_bin=$1 _bps=$2 _pps=$3 _port=$4 _enf=${5:-netfront}
	shift $(($# < 5 ? $# : 5))
	"$_bin" --platform netns --enforcer "$_enf" --uplinks "dbavm-up0:$_bps" \
		--host-pps "$_pps" --period 100 --listen "127.0.0.1:$_port" --state-dir "$dir/state" \
		--token-file "$dir/token" "$@" 2>>"$dir/agent.log" &
	agent=$!
	for _ in $(seq 50); do curl -sf "$api/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# PUTs VM's SLA at $api (token in $auth): the status in $code, the answer in $dir/put.json.
api_put() { # VM JSON
	code=$(curl -s -o "$dir/put.json" -w '%{http_code}' -X PUT "$api/vms/$1/sla" -H "$auth" \
		-H 'Content-Type: application/json' -d "$2")
}
# The same, a check that fails unless it was taken (200 or 201).
api_sla() { # VM JSON
	api_put "$1" "$2"
	case "$code" in
	200 | 201) ;;
	*) bad "PUT $1's SLA: $code $(cat "$dir/put.json")" ;;
	esac
}

# One exchange with the agent at $api (token in $auth), appended to $DBAVM_API_RECORD when it
# is set, in the form test_api records them, so that openapi_responses checks these answers
# too (the netns testbed's: ingress held, bursts, marks).
api_record() { # METHOD PATH [BODY]
	[ -n "${DBAVM_API_RECORD:-}" ] || return 0
	_w=$(curl -s -o "$dir/rec.body" -w '%{http_code} %{content_type}' -X "$1" "$api$2" \
		-H "$auth" ${3:+-H 'Content-Type: application/json' -d "$3"})
	jq -cn --arg m "$1" --arg p "$2" --argjson s "${_w%% *}" --arg ct "${_w#* }" \
		--rawfile b "$dir/rec.body" \
		'{method: $m, path: $p, status: $s, content_type: $ct, body: $b}' >>"$DBAVM_API_RECORD"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
