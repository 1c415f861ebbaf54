#!/bin/sh
# Run by dom0-init inside a real Xen 4.17 dom0 that tests/xen/test_xen_qemu.sh boots under
# QEMU. dom0 has one vCPU pinned to CPU 0, the domUs share CPU 1 (see test_xen_qemu.sh for
# why). The host's network: bridge xenbr0; its one port that is not a vif, dbavm-up0, a veth
# to the namespace dbavm-sink (198.18.0.254) where the iperf3 clients run, so a domU's
# traffic leaves by the uplink as on a real host. domU vm<i> is 198.18.0.1<i> and runs an
# iperf3 server; its traffic is measured by iperf3 -R from the sink.
#   dom0-test.sh test    the checks (ok/FAIL lines, check.sh), tables of what each VM got
#   dom0-test.sh scenario  the paper's scenario alone, each VM's TCP within 5 % of its SLA
#                          (the benchmark of how close; `test` checks it is held, not stalled)
#   dom0-test.sh packets   the packet limits, what is reported and the dom0-side enforcer
#                          alone (a part of `test`)
#   dom0-test.sh repeat    vif-police's counts and the path checks three times on each
#                          bridge, xenbr0 and OVS, to see their noise
#   dom0-test.sh scenario2 the paper's scenario 2 (tests/bench/bench_xen_scenario2.sh): each
#                          mode's S2 lines, what each VM got against its allocation and
#                          dom0's CPU by Xen's accounting
#   dom0-test.sh bench   the agent's CPU at a 100 ms period with three idle domUs, counting
#                        with the BPF tap (the default), the vif netdevs and libxenstat, and
#                        an unlimited domU's TCP with no agent and with each
set -u
. /dbavm/check.sh
MODE=${1:-test}
API=http://127.0.0.1:8470
B=/local/domain/0/backend/vif
PERIOD_MS=100
agent=""
now() { read -r up _ </proc/uptime && echo "$up"; } # 10 ms resolution
say() { echo "[dom0 $(now)] $*"; }

# ---- the host
ip link add xenbr0 type bridge forward_delay 0
ip link set xenbr0 up
ip netns add dbavm-sink
ip link add dbavm-up0 type veth peer name eth0 netns dbavm-sink
ip link set dbavm-up0 master xenbr0 up
ip -n dbavm-sink link set lo up
ip -n dbavm-sink addr add 198.18.0.254/24 dev eth0
ip -n dbavm-sink addr add 198.18.1.254/24 dev eth0 # for a domU's second port (198.18.1.1<i>)
ip -n dbavm-sink link set eth0 up
SINK_NS=dbavm-sink # (the Open vSwitch checks have a sink of their own)
sink() { ip netns exec "$SINK_NS" "$@"; }

# ---- the domUs
create() { # I [VIF [TWO]]: domU vm<I>, its vif on xenbr0 unless VIF (xl's vif spec) says
	# otherwise; with TWO a second port, 00:16:3e:00:01:0<I> at 198.18.1.1<I> (eth1)
	cat >"/tmp/vm$1.cfg" <<CFG
name = "vm$1"
type = "pv"
kernel = "/dbavm/domu/vmlinux"
ramdisk = "/dbavm/domu/initrd.gz"
extra = "console=hvc0 loglevel=4 dbavm_ip=198.18.0.1$1${3:+ dbavm_ip2=198.18.1.1$1}"
memory = 160
vcpus = 1
cpus = "1"
vif = [ 'mac=00:16:3e:00:00:0$1,${2:-bridge=xenbr0}'${3:+, 'mac=00:16:3e:00:01:0$1,bridge=xenbr0'} ]
on_crash = "destroy"
CFG
	xl create -q "/tmp/vm$1.cfg" >"/tmp/xl-vm$1.log" 2>&1 || {
		bad "xl create vm$1: $(tail -3 "/tmp/xl-vm$1.log")"
		return 1
	}
}
reachable() { # I: vm<I>'s iperf3 server and its command port (domu-cmd) answer from the sink
	for _ in $(seq 60); do
		sink busybox ping -c 1 -W 1 "198.18.0.1$1" >/dev/null 2>&1 &&
			sink timeout 10 iperf3 -c "198.18.0.1$1" -n 1K >/dev/null 2>&1 &&
			[ "$(echo hello | sink timeout 10 busybox nc "198.18.0.1$1" 7000 2>/dev/null)" = ready ] &&
			return 0
		sleep 1
	done
	return 1
}
domid() { xl domid "vm$1" 2>/dev/null; }
uuid() { xl list -v "vm$1" | awk 'NR == 2 { print $7 }'; } # Name ID Mem VCPUs State Time UUID
unreachable() { # I: says so, with what tells why
	bad "vm$1 unreachable"
	xl list
	ip -br link
	bridge link
	echo "vm$1's console:"
	tail -20 "/var/log/xen/console/guest-vm$1.log" 2>/dev/null
}

# ---- the agent; its log lines stamped with dom0's uptime as they come
printf 's3cret0123456789\n' >/run/token
chmod 600 /run/token
mkfifo /tmp/agent.fifo
# (No command substitution in the loop: a fork costs tens of milliseconds under emulation.)
(while IFS= read -r l; do
	read -r up _ </proc/uptime
	echo "$up $l"
done </tmp/agent.fifo >>/tmp/agent.log) &
exec 9>/tmp/agent.fifo # the stamper's writer stays open across agents
start_agent() { # FLAGS...
	dbavmd --platform xen --period "$PERIOD_MS" --listen 127.0.0.1:8470 --log-level debug \
		--state-dir /var/lib/dbavm --token-file /run/token "$@" 2>&9 &
	agent=$!
	for _ in $(seq 100); do curl -sf -m 2 "$API/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	bad "the agent did not become ready ($*)"
	return 1
}
stop_agent() { # SIGTERM; the agent's exit status
	[ -n "$agent" ] || return 0
	kill "$agent"
	wait "$agent"
	rc=$?
	agent=""
	return "$rc"
}
api() { curl -sf -m 5 "$API$1"; }
put() { # KEY MAX_BPS [MAX_PPS]: an SLA as the paper's, min = max
	curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/$1/sla" \
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
		-d "{\"priority\":1,\"bandwidth\":{\"min_bps\":$2,\"max_bps\":$2},
		     \"packet_rate\":{\"min_pps\":0,\"max_pps\":${3:-null}}}"
}
put_sla() { # KEY JSON: the status of PUT /vms/KEY/sla with that body, any 2xx as 2xx
	curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/$1/sla" \
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' -d "$2" |
		sed 's/20[01]/2xx/'
}
del_sla() {
	curl -s -o /dev/null -w '%{http_code}' -m 5 -X DELETE "$API/vms/$1/sla" \
		-H 'Authorization: Bearer s3cret0123456789'
}
counter() { # METRIC VM: fails if the series is absent
	api /metrics | awk -v k="$1{vm=\"$2\"}" 'index($0, k " ") == 1 { print $2; f = 1 }
		END { exit !f }'
}
rate_node() { xenstore-read "$B/$(domid "$1")/0/rate" 2>/dev/null || echo none; }
present() { api /vms | jq '[.vms[] | select(.present)] | length'; }
wait_present() { # N
	for _ in $(seq 50); do [ "$(present 2>/dev/null)" = "$1" ] && return 0; sleep 0.1; done
	return 1
}

# iperf3 -R from the sink: vm<I> sends for T seconds. TCP: goodput; UDP: 1400-byte
# datagrams offered at RATE, what arrived (payload). Mbit/s, into /tmp/r<I>.
iperf_tcp() { # I T
	sink timeout $(($2 + 20)) iperf3 -c "198.18.0.1$1" -R -t "$2" -J >"/tmp/j$1" 2>/dev/null
	jq '.end.sum_received.bits_per_second / 1e6' "/tmp/j$1" >"/tmp/r$1" 2>/dev/null ||
		echo 0 >"/tmp/r$1"
}
iperf_udp() { # I T RATE
	sink timeout $(($2 + 20)) iperf3 -c "198.18.0.1$1" -R -u -b "$3" -l 1400 -t "$2" \
		-J \
		>"/tmp/j$1" 2>/dev/null
	jq '.end.sum_received | (.packets - .lost_packets) * 1400 * 8 / .seconds / 1e6' "/tmp/j$1" \
		>"/tmp/r$1" 2>/dev/null || echo 0 >"/tmp/r$1"
	jq '.end.sum_received | .packets - .lost_packets' "/tmp/j$1" >"/tmp/p$1" 2>/dev/null ||
		echo 0 >"/tmp/p$1"
}
# A rate held by a limit, as the test judges it: the rate node in force, neither absent
# (an unlimited domU moves 100-500 Mbit/s here) nor throttling TCP to a stall: between a third
# and four thirds of the limit. How close TCP gets to it is a benchmark's question, asked in
# `scenario` mode (tests/bench/bench_xen.sh) on a quiet host, where it is within 5 %: under
# emulation netback's credit timers keep time only while the host gives QEMU both its CPUs.
# With the host's other core busy (a shell loop; a CI neighbour did the same), domUs held to
# 1.5, 7 and 1.5 Mbit/s got 0.59-1.15 of them, two held to 4 and 12 Mbit/s 0.83 and 0.73 in
# TCP, two held to 4 and 8 Mbit/s 0.95-1.0 in UDP (twice that offered), and
# 100 ms credit windows in place of 20 ms did no better (0.74-0.89); unlimited, three domUs
# moved 8.4 Mbit/s in all through an 11 Mbit/s wire. The rate nodes themselves are checked
# exactly, above.
held() { # WHAT GOT LIMIT
	if awk -v g="$2" -v l="$3" 'BEGIN { exit !(g <= l * 4 / 3 && g >= l / 3) }'; then
		ok "$1: $2, held to $3 (a third to four thirds of it)"
	else
		bad "$1: $2, want between a third and four thirds of $3"
	fi
}
# A UDP payload rate as the wire carries it: 1400 bytes in a 1442-byte frame.
wire() { awk -v r="$1" 'BEGIN { printf "%.2f", r * 1442 / 1400 }'; }

say "creating three domUs"
for i in 1 2 3; do create "$i"; done
for i in 1 2 3; do
	reachable "$i" || {
		unreachable "$i"
		exit 1 # nothing else can be measured
	}
done
say "domUs up: $(xl list | awk 'NR > 1 { printf "%s(%s) ", $1, $2 }')"

if [ "$MODE" = bench ]; then
	cpu_pct() { # PID SECONDS: its CPU over that time, in % of one CPU
		t0=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
		sleep "$2"
		t1=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
		awk -v a="$t0" -v b="$t1" -v s="$2" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }'
	}
	iperf_tcp 3 8
	echo "BENCH unlimited vm3 TCP, no agent: $(cat /tmp/r3) Mbit/s"
	for counters in bpf netdev xenstat; do
		start_agent --xen-counters "$counters" --enforcer none || continue
		wait_present 3
		sleep 3
		echo "BENCH agent CPU at ${PERIOD_MS} ms, 3 idle domUs, counters from $counters:" \
			"$(cpu_pct "$agent" 30) % of dom0's vCPU"
		iperf_tcp 3 8
		echo "BENCH unlimited vm3 TCP, agent counting from $counters: $(cat /tmp/r3) Mbit/s"
		stop_agent
	done
	xl destroy vm1
	xl destroy vm2
	xl destroy vm3
	exit 0
fi


# ---- packet limits, what is reported, and the dom0-side enforcer (issue 24's checks)
sink_mac=$(sink cat /sys/class/net/eth0/address)
domu_cmd() { # I LINE: one command to vm<I>'s domu-cmd (pktgen), answered at once; when its
	# port does not answer, what its console says (the domU's listener logs there)
	echo "$2" | sink timeout 10 busybox nc "198.18.0.1$1" 7000 && return 0
	echo "vm$1's command port did not answer '$2'; its console:" >&2
	tail -5 "/var/log/xen/console/guest-vm$1.log" >&2 2>/dev/null
	return 1
}
# The agent's counters of vm<I> at its last tick, from /metrics on standard input: its clock
# (s) passed_pkts passed_bytes offered_pkts dropped_pkts lost_path (a series the enforcer does not
# have reads -1).
vm_mark() { # I
	awk -v vm="vm$1" '
		function v(name) { return (name in f) ? f[name] : -1 }
		$1 == "dbavm_loop_time_seconds" { t = $2 }
		index($1, "{vm=\"" vm "\"}") || index($1, "{vm=\"" vm "\",cause=\"path\"}") { split($1, n, "{"); f[n[1] ($1 ~ /path/ ? "_path" : "")] = $2 }
		END { printf "%.6f %s %s %s %s %s\n", t, v("dbavm_vm_passed_packets_total"), v("dbavm_vm_passed_bytes_total"),
			v("dbavm_vm_offered_packets_total"), v("dbavm_vm_dropped_packets_total"),
			v("dbavm_vm_lost_packets_total_path") }'
}
# What the agent passed between two marks: packets a second over its own clock (the time its
# counters cover: a period cut short when a platform event rephases the loop counts as what
# it was), bytes a packet.
agent_between() { # MARK0 MARK1
	echo "$1 $2" | awk '{ dt = $7 - $1; n = $8 - $2
		printf "%.1f %.1f\n", (dt > 0 ? n / dt : 0), (n ? ($9 - $3) / n : 0) }'
}
# The sink's figure for vm<I> from pgsink's line: FIELD's value.
sink_field() { # I FIELD
	sed -n "s/.*src=198.18.0.1$1 .*$2=\([0-9.]*\).*/\1/p" /tmp/pgsink.out | head -1
}
# vm<I> sends FRAME-byte frames at OFFERED a second, at once in place of what it sent (a
# switch); from 1 s after, for SECONDS, the sink's packets a second against the packet limit
# LIMIT, and the agent's bytes a packet over the same stretch. (How many packets the agent
# counted is pkt_sequence's check.)
pkt_phase() { # I LIMIT OFFERED FRAME SECONDS
	domu_cmd "$1" "pg $sink_mac $3 $4 $(($5 + 3))" >/dev/null || bad "vm$1: pktgen not started"
	sleep 1
	m0=$(api /metrics | vm_mark "$1")
	sink pgsink eth0 "$5" >/tmp/pgsink.out
	m1=$(api /metrics | vm_mark "$1")
	got=$(sink_field "$1" pps)
	echo "PKT vm$1 frame=$4 offered=$3 limit=$2 sink: $(grep "src=198.18.0.1$1 " /tmp/pgsink.out)"
	within "vm$1, $4-byte frames offered at $3/s: the sink's packets a second vs its limit" \
		"${got:-0}" "$2" 5
	set -- "$1" "$4" $(agent_between "$m0" "$m1")
	echo "  the agent over about the same stretch: $3 packets a second"
	within "vm$1, $2-byte frames: the agent's bytes a packet (whole frames)" "$4" "$2" 1
}
# A capture at the sink in the background, for at most SECONDS, into OUT; capture_stop ends it
# early (pgsink reports on SIGINT). The signal goes to pgsink itself, by the PID it wrote: the
# shell that runs a background job ignores SIGINT, and so would not pass it on.
capture_start() { # OUT SECONDS
	rm -f /tmp/pgsink.pid
	sink sh -c 'echo $$ >/tmp/pgsink.pid; exec pgsink eth0 "$1"' sh "$2" >"$1" &
	cap=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s /tmp/pgsink.pid ] && break; sleep 0.1; done
	sleep 0.5 # its socket bound
}
capture_stop() {
	kill -INT "$(cat /tmp/pgsink.pid)" 2>/dev/null || bad "the sink's capture had ended early"
	wait "$cap"
}
# pkt_phase for each FRAME in turn, while a capture of its own at the sink takes every frame
# vm<I> sends, from before the first phase to after its ring has drained; the agent's
# counters, read before and after while vm<I> is idle, must count the same frames and bytes as
# the kernel's own counters of the vif in dom0 (rx_packets, and rx_bytes with the 14-byte
# header netback leaves out). The sink, past the bridge, gets no more than that, and all but
# what the bridge dropped: Open vSwitch drops a new flow's first frames while ovs-vswitchd sets
# it up (14-16 frames in most runs, 153 of 14,839 in one).
# A count, not a rate over two stretches that never quite coincide (the sink's begins when it
# has started, the agent's at a period): a rate that moves, as netback's credit timer makes it
# under a loaded emulator, then differs by what the stretches do not share.
vif_counts() { # I: rx_packets and whole-frame bytes of vm<I>'s vif in dom0
	set -- "/sys/class/net/vif$(domid "$1").0/statistics"
	echo "$(cat "$1/rx_packets") $(cat "$1/rx_bytes")" | awk '{ print $1, $2 + 14 * $1 }'
}
pkt_sequence() { # I LIMIT OFFERED FRAME...
	seq_i=$1 seq_lim=$2 seq_off=$3
	shift 3
	a0=$(api /metrics | vm_mark "$seq_i") k0=$(vif_counts "$seq_i")
	capture_start /tmp/pgsink-all.out 110
	seq_t0=$(now)
	for f in "$@"; do pkt_phase "$seq_i" "$seq_lim" "$seq_off" "$f" 4; done
	domu_cmd "$seq_i" stop >/dev/null
	seq_t1=$(now)
	sleep 1.5 # the ring's 256 slots at the limit drain in a quarter second; a period more
	a1=$(api /metrics | vm_mark "$seq_i") k1=$(vif_counts "$seq_i")
	capture_stop
	sp=$(sed -n "s/.*src=198.18.0.1$seq_i pkts=\([0-9]*\) bytes=\([0-9]*\).*/\1/p" /tmp/pgsink-all.out)
	sb=$(sed -n "s/.*src=198.18.0.1$seq_i pkts=\([0-9]*\) bytes=\([0-9]*\).*/\2/p" /tmp/pgsink-all.out)
	set -- $(echo "$a0 $a1" | awk '{ print $8 - $2, $9 - $3 }') $(echo "$k0 $k1" | awk '{ print $3 - $1, $4 - $2 }')
	echo "vm$seq_i, every frame of the phases: the agent $1 frames, $2 bytes; the vif in dom0" \
		"$3, $4; the sink $sp, $sb"
	within "vm$seq_i, every frame of the phases: the agent's packets vs the vif's in dom0" "$1" "$3" 0.5
	within "vm$seq_i, every frame of the phases: the agent's bytes vs the vif's in dom0" "$2" "$4" 0.5
	above "vm$seq_i, every frame of the phases: the agent's packets, at least the sink's" "$1" "${sp:-0}"
	within "vm$seq_i, every frame of the phases: the sink's packets vs the agent's (the bridge's drops)" \
		"${sp:-0}" "$1" 3
}

# vm<I>'s egress "allowance exceeded" by its packet rate, as "PACKETS SECONDS" (under
# xen-credit, the agent's estimate); fails if absent.
eg_limited() { # I
	api /metrics | awk -v v="{vm=\"vm$1\",vif=\"vif$(domid "$1").0\",direction=\"egress\",resource=\"pps\"}" '
		$1 == "dbavm_vif_limited_packets_total" v { p = $2 }
		$1 == "dbavm_vif_limited_seconds_total" v { s = $2 }
		END { if (p == "" || s == "") exit 1; print p, s }'
}

# The median of vm<I>'s last three whole seconds of FIELD (its history: each over the agent's
# own measured time).
hist_median() { # I FIELD
	api "/vms/vm$1/stats" | jq "[.periods[-3:][].$2 // 0] | sort | .[1] // 0"
}

# netem on the uplink adds 2 ms +-0.5 ms and loses 10 %. What the agent measures from its tap
# (tc ingress of the vif) to the uplink's egress, its BPF program on the driver's tracepoint,
# must match within 25 % an independent measure of the same stretch: the kernel's packet taps
# on the vif (received) and on the uplink (sent), pktgen's frames matched by sequence number
# (pgsink -p); and the loss, what the sink received of pktgen's sequence numbers.
pair_field() { sed -n "s/.*src=198.18.0.1$1 .*$2=\([0-9.]*\).*/\1/p" /tmp/pgpair.out | head -1; }
path_checks() { # I UPLINK N: vm<I>, whose vif leaves by UPLINK, N domUs up
start_agent --enforcer none --sample-every 1
wait_present "$3"
tc qdisc add dev "$2" root netem delay 2ms 500us loss 10% || bad "netem on $2"
# RFC 3550's jitter is a running estimate, weighted to the last few dozen packets: both
# measures run past the flow's end, so that they end on the same packets.
d=$(domid "$1")
domu_cmd "$1" "pg $sink_mac 500 512 8" >/dev/null
sleep 1
# The taps run 4 s past the flow's end (its last samples matched or expired, 2 s), and the
# agent is read as they end: both have then timed the same frames, the VM's others included.
pgsink -p "vif$d.0" "$2" 11 >/tmp/pgpair.out &
pair=$!
sink pgsink eth0 9 >/tmp/pgsink.out
wait "$pair"
sleep 0.2 # the agent's last period in
v=$(api "/vms/vm$1")
m=$(api /metrics)
echo "the sink: $(cat /tmp/pgsink.out)"
echo "dom0's packet taps: $(grep -v '^other ' /tmp/pgpair.out)"
echo "the agent: $(echo "$v" | jq -c '{delay: .delay.total, jitter_s}')"
lost=$(echo "$m" | awk -v k="dbavm_vm_lost_packets_total{vm=\"vm$1\",cause=\"path\"}" '$1 == k { print $2 }')
sent=$(echo "$m" | awk -v k="dbavm_vm_passed_packets_total{vm=\"vm$1\"}" '$1 == k { print $2 }')
echo "the agent: vm$1 lost on the path $lost of $sent"
echo "the agent, second by second (jitter, p50, p99 in us): $(api "/vms/vm$1/stats" |
	jq -c '[.periods[] | [((.jitter_s // 0) * 1e6 | floor), ((.delay.p50_s // 0) * 1e6 | floor), ((.delay.p99_s // 0) * 1e6 | floor)]]')"
loss=$(awk -v l="${lost:-0}" -v p="${sent:-1}" 'BEGIN { printf "%.4f", l / p }')
within "vm$1's path loss ($2), the agent's vs the sink's sequence numbers" "$loss" "$(sink_field "$1" loss)" 25
# The taps' own measure is whole only if their socket dropped nothing (pgsink.c, tap_drops).
expect "dom0's packet taps missed no frame (their measure is whole)" \
	"$(pair_field "$1" tap_drops)" 0
within "vm$1's path loss ($2), the agent's vs dom0's packet taps" "$loss" "$(pair_field "$1" loss)" 25
within "vm$1's mean delay through dom0 ($2), the agent's vs dom0's packet taps (s)" \
	"$(echo "$v" | jq .delay.total.mean_s)" "$(pair_field "$1" delay_mean_s)" 25
within "vm$1's median delay through dom0 ($2), the agent's vs dom0's packet taps (s)" \
	"$(echo "$v" | jq .delay.total.p50_s)" "$(pair_field "$1" delay_p50_s)" 25
# Jitter: RFC 3550's estimate weighs the last few dozen frames, so two measures of it agree
# only when they time the same frames: the taps time every frame of the VM, as the agent does
# (on OVS a frame that is not pktgen's, its flow's first through ovs-vswitchd, took 6 ms and
# moved the agent's estimate from 0.51 to 0.70 ms where taps that timed pktgen's alone stayed
# at 0.52). Printed beside: the median of the agent's seconds and the mean |D - D_prev|.
jit=$(api "/vms/vm$1/stats" | jq '[.periods[] | select(.delay.samples >= 100) | .jitter_s // empty] |
	sort | if length > 0 then .[length / 2 | floor] else null end')
echo "vm$1's jitter ($2): the agent's median second $jit s; the taps' mean |D - D_prev|" \
	"$(pair_field "$1" jitter_mean_s) s, over $(pair_field "$1" others) frames besides pktgen's:"
grep '^other ' /tmp/pgpair.out | sed 's/^/   /'
within "vm$1's jitter through dom0 ($2), the agent's vs dom0's packet taps (s)" \
	"$(echo "$v" | jq .jitter_s)" "$(pair_field "$1" jitter_s)" 25
tc qdisc del dev "$2" root
stop_agent
}

# vif-police on vm<I> (N domUs up): its hook's policer on the vif in dom0, after netback's
# copy. A flood at 3x a 1000 packet/s limit, inside a capture of its own at the sink that
# starts before it and ends after the ring has drained, the agent read before and after while
# the VM is idle. Counts of the same frames, not rates over two stretches that never quite
# coincide (under a loaded emulator the guest's pktgen has started up to 2 s late):
# - the sink's packets a second (from its first frame to its last) against the limit;
# - the agent's offered packets against what pktgen sent (the sink's sequence numbers, seen
#   and lost), its passed against the sink's, its dropped against the sink's lost;
# - its history whole: the passed packets of its seconds (each its rate times its length)
#   against its counters.
police_checks() { # I N
start_agent --enforcer vif-police
wait_present "$2" || bad "vif-police: $(present) domUs present, want $2"
expect "the enforcer" "$(api /host | jq -r .enforcer)" vif-police
expect "PUT vm$1: 1000 packet/s" "$(put "vm$1" 100000000 1000 | sed 's/20[01]/2xx/')" 2xx
sleep 0.5
expect "vif-police: no rate node (it holds nothing in the guest)" "$(rate_node "$1")" none
vp0=$(api /metrics | vm_mark "$1")
say "vif-police: vm$1 read, the capture starts"
capture_start /tmp/pgsink.out 30
domu_cmd "$1" "pg $sink_mac 3000 64 6" >/dev/null || bad "vm$1: pktgen not started"
say "vif-police: vm$1's flood started"
sleep 7
domu_cmd "$1" stop >/dev/null
say "vif-police: vm$1's flood stopped"
sleep 1.5 # the ring drained, the agent's last period in and its second closed
vp1=$(api /metrics | vm_mark "$1")
capture_stop
st=$(api "/vms/vm$1/stats")
set -- "$1" $(echo "$vp0 $vp1" | awk '{ printf "%d %d %d", $10 - $4, $8 - $2, $11 - $5 }')
sp=$(sink_field "$1" pkts) sl=$(sink_field "$1" lost)
hsum=$(echo "$st" | jq --argjson t0 "$(echo "$vp0" | awk '{ print $1 * 1000 }')" '.periods as $p |
	[range(1; $p | length) | select($p[.].t_ms > $t0) |
	 $p[.].passed.pps * ($p[.].t_ms - $p[. - 1].t_ms) / 1000] | add // 0 | round')
echo "vif-police: vm$1 offered $2, passed $3, dropped $4 frames; the sink: $(grep "src=198.18.0.1$1 " /tmp/pgsink.out)"
echo "vif-police: vm$1's seconds since the first reading (their end in s, passed packet/s):" \
	"$(echo "$st" | jq -c --argjson t0 "$(echo "$vp0" | awk '{ print $1 * 1000 }')" \
		'[.periods[] | select(.t_ms > $t0) | [(.t_ms - $t0) / 1000, .passed.pps]]'), $hsum packets" \
	"in all; the second reading at $(echo "$vp0 $vp1" | awk '{ print $7 - $1 }') s"
within "vif-police: vm$1, 64-byte frames offered at 3000/s: the sink's packets a second vs its limit" \
	"$(sink_field "$1" pps)" 1000 5
within "vif-police: vm$1, the agent's offered packets vs pktgen's (the sink's seen and lost)" \
	"$2" "$((${sp:-0} + ${sl:-0}))" 1
within "vif-police: vm$1, the agent's passed packets vs the sink's" "$3" "${sp:-0}" 1
within "vif-police: vm$1, the agent's dropped packets vs the sink's lost" "$4" "${sl:-0}" 1
above "vif-police: vm$1's flood, offered packets (3000/s for up to 6 s)" "$2" 10000
above "vif-police: vm$1, over half a flood at 3x its limit dropped (packets)" "$4" "$(($2 / 2))"
within "vif-police: vm$1, the passed packets of its history's seconds vs its counters" \
	"$hsum" "$3" 2
expect "vif-police: DELETE vm$1's SLA" "$(del_sla "vm$1")" 204
stop_agent
}

# vif-police holds what vm<I> receives on its vif's tc egress in dom0, ahead of netback's
# receive copy into the guest (netfront's program and shaper): TCP from the sink received at
# its ingress max; a UDP flood at twice it dropped there, the agent's ingress drops against
# iperf3's lost; a port's own SLA put by the MAC the backend's mac node gives (vm2's), held the
# same; the shaper gone from the vifs once the agent stops.
in_metric() { # NAME I: vm<I>'s ingress series; fails if absent
	api /metrics | awk -v k="$1{vm=\"vm$2\",vif=\"vif$(domid "$2").0\",direction=\"ingress\"}" \
		'index($0, k " ") == 1 { print $2; f = 1 } END { exit !f }'
}
# What dom0 has handed on to the guest through each vif named (netback's tx_bytes, whole
# frames, and tx_packets: what passed the agent's shaper), as "START END BYTES PACKETS...": the
# clock before and after the reads, for a command here can take a second under emulation (a
# run timed at the start read 1.52 against 2.5 where the domU's own count said 2.65).
# What netback holds in its internal receive queues of a vif (taken from the stack, not yet
# copied into the guest), from its debugfs rings' "Rx internal queue: len BYTES max M pkts N":
# into _qb and _qp.
rx_queued() { # VIF
	_qb=0 _qp=0
	for _f in "/sys/kernel/debug/xen-netback/$1"/io_ring_q*; do
		[ -r "$_f" ] || continue
		while read -r _l; do
			# shellcheck disable=SC2086 # its words are the fields
			case $_l in "Rx internal queue:"*) rx_queue_line $_l ;; esac
		done <"$_f"
	done
}
rx_queue_line() { _qb=$((_qb + $5)) _qp=$((_qp + $9)); } # Rx internal queue: len B max M pkts N
vif_sent() { # VIF...
	# What passed the vif's qdisc: what netback copied into the guest (the vif's tx counters)
	# and what it still holds. A guest busy elsewhere (one just started) leaves what the shaper
	# released in netback's queue, and copies it later in a rush: counted at the copy alone, a
	# port held at 0.6 Mbit/s read 0.657 over a 4 s window.
	# The shell's own reads, no command forked: a fork for each of four counters took long
	# enough under emulation, and unevenly enough, that one vif's rate read 6 % over and the
	# other's 19 % under what their receivers counted, over the same 3 s.
	read -r _t0 _ </proc/uptime
	_b=""
	for _v in "$@"; do
		read -r _x <"/sys/class/net/$_v/statistics/tx_bytes"
		read -r _y <"/sys/class/net/$_v/statistics/tx_packets"
		rx_queued "$_v"
		_b="$_b $((_x + _qb)) $((_y + _qp))"
	done
	read -r _t1 _ </proc/uptime
	echo "$_t0 $_t1$_b"
}
# Mbit/s of the Nth vif between two vif_sent lines (FILE_A FILE_B), each timed at the middle
# of its reads; with TCP, as frames: netback counts a GSO packet once, with its headers once
# (66 bytes: Ethernet, IP, TCP with timestamps), so its payload is the bytes less 66 a packet,
# and a full segment's 1448 bytes are a 1514-byte frame. (Scaling the bytes alone by
# 1514/1448 read a port held at 0.6 Mbit/s 6 % over: slow flows send small GSO packets, whose
# headers are a larger share.)
sent_rate() { # FILE_A FILE_B N [tcp]
	paste -d' ' "$1" "$2" | awk -v n="$3" -v tcp="$([ "${4:-}" = tcp ] && echo 1 || echo 0)" '
		{ h = NF / 2; b0 = $(1 + 2 * n); p0 = $(2 + 2 * n); b1 = $(h + 1 + 2 * n)
		p1 = $(h + 2 + 2 * n); t0 = ($1 + $2) / 2; t1 = ($(h + 1) + $(h + 2)) / 2
		b = tcp ? (b1 - b0 - 66 * (p1 - p0)) * 1514 / 1448 : b1 - b0
		if (NF % 2 == 0 && b > 0 && t1 > t0)
			printf "%.3f", b * 8 / (t1 - t0) / 1e6 }'
}
in_limited() { # I RESOURCE: vm<I>'s ingress dbavm_vif_limited_packets_total; fails if absent
	api /metrics | awk -v k="dbavm_vif_limited_packets_total{vm=\"vm$1\",vif=\"vif$(domid "$1").0\",direction=\"ingress\",resource=\"$2\"}" \
		'index($0, k " ") == 1 { print $2; f = 1 } END { exit !f }'
}
# within, of a figure a run gave: a missing one (empty, or JSON's null) fails the check, never
# reads as 0.
within_fig() { # WHAT GOT WANT PCT
	case $2 in
	'' | null) bad "$1: no figure (the run did not give one)" ;;
	*) within "$@" ;;
	esac
}
# The median second of what a domU received (the iperf3 server's own seconds, from the
# second on: a limit's burst, 80 % of a Neutron rate by default, passes at line rate first).
recv_median() { # FILE: Mbit/s of frames
	jq '[.server_output_json.intervals[].sum | select(.start >= 1.99 and .seconds >= 0.5)
		| .bits_per_second * 1514 / 1448 / 1e6] | sort
		| if length == 0 then empty else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end' \
		"$1" 2>/dev/null
}
# What dom0 hands on to VIFs from S s to S+L s on its own clock: vif_sent lines into A and B,
# from the background (wait for $!).
sent_window() { # S L A B VIF...
	_ws=$1 _wl=$2 _wa=$3 _wb=$4 # (vif_sent's own are _t0, _b, _v)
	shift 4
	(
		sleep "$_ws"
		vif_sent "$@" >"$_wa"
		sleep "$_wl"
		vif_sent "$@" >"$_wb"
		# the first vif's shaper as the window ended (its classes' rates), read after it
		tc class show dev "$1" >"$_wb.tc" 2>&1
	) &
}
# The rates of the classes in a tc class listing: "db01:1 2Mbit; ..."
class_rates() { # FILE
	awk '{ for (i = 1; i < NF; i++) if ($i == "rate") printf "%s %s; ", $3, $(i + 1) }' "$1" 2>/dev/null
}
# TCP from the sink to vm<I> for T s: what dom0 handed on to its vif from 2 s to T-1 s, as
# frames, Mbit/s, into /tmp/ri<I> (empty: no figure); the domU's iperf3 median second is
# printed beside it. A domU's seconds stretch and shrink under emulation: vm3's median second
# read 2.18 of its 3 in a run where every other figure held (2.91-3.03 in the others), vm5's
# port b 0.533 of 0.6. vm1's first vif is read in the same window (/tmp/qa, /tmp/qb, second).
in_tcp() { # I T
	sent_window 2 $(($2 - 3)) /tmp/qa /tmp/qb "vif$(domid "$1").0" "vif$(domid 1).0"
	_q=$!
	sink timeout $(($2 + 20)) iperf3 -c "198.18.0.1$1" -t "$2" -J --get-server-output \
		>"/tmp/ji$1" 2>/dev/null
	wait "$_q"
	sent_rate /tmp/qa /tmp/qb 1 tcp >"/tmp/ri$1"
	echo "   vm$1 as its iperf3 saw it (frames, Mbit/s, median second): $(recv_median "/tmp/ji$1");" \
		"the sink's retransmits: $(jq '.end.sum_sent.retransmits' "/tmp/ji$1" 2>/dev/null)," \
		"its seconds (Mbit/s): $(jq -c '[.intervals[].sum.bits_per_second / 1e5 | round / 10]' "/tmp/ji$1" 2>/dev/null)"
}
# vm1 receives TCP from the sink, held at its ingress max of 8 Mbit/s (under enforcer ENF).
# The check is of TCP held at the limit, not of its start: the first connection from the sink
# to vm1 since boot read 7.33 and 7.49 of 8 (dom0's count over 2-5 s) in two of five runs,
# every later one 7.92-8.03 (and the limit, read from the agent's log, 8 throughout the
# window). A connection of 2 s first.
in_tcp_check() { # ENF
sink timeout 15 iperf3 -c 198.18.0.11 -t 2 >/dev/null 2>&1
in_tcp 1 6
set -- "$1" $(limit_over 1 /tmp/qa /tmp/qb)
echo "   vm1's ingress limit over the window: ${2:-?} Mbit/s, changed ${3:-?} times (${4:-?} to ${5:-?})"
within_fig "$1: vm1 received TCP from the sink (frames, Mbit/s, dom0's 2-5 s) vs its ingress max" \
	"$(cat /tmp/ri1)" 8 5
}
# A UDP flood at twice vm1's ingress max of 8 Mbit/s: held at it, dropped ahead of netback's
# copy, each drop counted, and counted as limited by the bit rate (under enforcer ENF).
in_udp_check() { # ENF
d0=$(in_metric dbavm_vif_dropped_packets_total 1)
l0=$(in_limited 1 bps)
sent_window 2 3 /tmp/qa /tmp/qb "vif$(domid 1).0"
q=$!
sink timeout 26 iperf3 -c 198.18.0.11 -u -b 16M -l 1400 -t 6 -J >/tmp/jiu1 2>/dev/null
wait "$q"
sleep 0.3
d1=$(in_metric dbavm_vif_dropped_packets_total 1)
l1=$(in_limited 1 bps)
lost=$(jq '.end.sum_received.lost_packets' /tmp/jiu1 2>/dev/null)
echo "   vm1's UDP as its iperf3 saw it (frames, Mbit/s, its seconds): $(jq '.end.sum_received
	| (.packets - .lost_packets) * 1442 * 8 / .seconds / 1e6' /tmp/jiu1 2>/dev/null)"
within_fig "$1: vm1 received UDP at 16 Mbit/s (frames, Mbit/s, dom0's 2-5 s) vs its ingress max" \
	"$(sent_rate /tmp/qa /tmp/qb 1)" 8 5
if [ -n "$d0" ] && [ -n "$d1" ] && [ -n "$lost" ] && [ "$lost" != null ]; then
	within "$1: vm1's ingress drops in dom0 vs iperf3's lost datagrams" \
		"$((d1 - d0))" "$lost" 3
	above "$1: vm1, about half the UDP flood dropped ahead of the copy" "$lost" 1500
	# "Allowance exceeded": the packets the bit rate limit dropped or queued past its burst
	# (a UDP flood: dropped), against the drops
	if [ -n "$l0" ] && [ -n "$l1" ]; then
		within "$1: vm1's ingress packets limited by the bit rate vs its drops" \
			"$((l1 - l0))" "$((d1 - d0))" 1
	else
		bad "$1: vm1's dbavm_vif_limited_packets_total{direction=ingress,resource=bps}: no series"
	fi
else
	bad "$1: vm1's ingress drops: no figure (agent $d0 $d1, iperf3 lost '$lost')"
fi
}
police_ingress_checks() {
start_agent --enforcer vif-police
wait_present 3 || bad "vif-police: $(present) domUs present, want 3"
expect "vif-police holds ingress: PUT vm1's ingress max 8 Mbit/s" \
	"$(put_sla vm1 '{"priority":1,"ingress":{"priority":1,"bandwidth":{"max_bps":8000000}}}')" 2xx
sleep 0.5
tc qdisc show dev "vif$(domid 1).0" | grep -q "htb db01: root" &&
	ok "vif-police: the shaper on vm1's vif in dom0" ||
	bad "vif-police: no shaper on vif$(domid 1).0: $(tc qdisc show dev "vif$(domid 1).0")"
in_tcp_check vif-police
# Its delay from the uplink's receive to netback's, through the shaper's queue (TCP fills it)
v=$(api /vms/vm1)
echo "   vm1's ingress delay: $(echo "$v" | jq -c '.ingress.delay.total') jitter $(echo "$v" | jq .ingress.jitter_s) s"
expect "vif-police: vm1's ingress delay sampled, uplink to vif (VM and vif)" \
	"$(echo "$v" | jq -c '[.ingress.delay.total.samples > 0, .ingress.delay.total.p50_s > 0,
		.vifs[0].ingress.delay.total.samples > 0, .ingress.jitter_s != null]')" '[true,true,true,true]'
in_udp_check vif-police
mac=$(xenstore-read "$B/$(domid 2)/0/mac")
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/ports/$mac/sla" \
	-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
	-d '{"priority":1,"ingress":{"priority":1,"bandwidth":{"max_bps":4000000}}}')
expect "vif-police: PUT vm2's port's own SLA by its backend MAC ($mac)" "$code" 201
expect "vm2's port: its MAC, its own SLA" \
	"$(api "/ports/vif$(domid 2).0" | jq -c '[.port, .vm, .sla_from]')" "[\"$mac\",\"vm2\",\"port\"]"
sleep 0.5
in_tcp 2 6
within_fig "vif-police: vm2 received TCP (frames, Mbit/s, dom0's 2-5 s) vs its port's ingress max" \
	"$(cat /tmp/ri2)" 4 5
# One VM, two ports, two SLAs: vm5's, PUT by MAC before it exists (kept for it), then TCP
# into each port at once, each held within 5 % of its own port's ingress max. (Runs where
# both ports received the same fraction whatever their limits, 1.53 and 1.56 against 6 and 3,
# 0.604 and 0.605 against 1.2 and 0.6, were ARP: the domU's one port answered for both
# addresses, and both flows came through it, under its limit: the sums are its limit. Its
# init now answers ARP on each port for its own address only.)
two_ports_check
police_ingress_end
}

# xen-credit holds what a VM receives as vif-police does (the hook and an HTB on the vif's tc
# egress in dom0, ahead of netback's receive copy), beside the credit on what it sends: one SLA
# with a side each way, each held where it belongs.
credit_ingress_checks() {
start_agent --enforcer xen-credit
wait_present 3 || bad "xen-credit: $(present) domUs present, want 3"
expect "xen-credit: each uplink has a receiving pool (what VMs receive is held)" \
	"$(api /host | jq -c '[.enforcer, (.uplinks[] | .ingress != null)]')" '["xen-credit",true]'
expect "xen-credit: PUT vm1's SLA, 4 Mbit/s out (the credit) and 8 in (the hook)" \
	"$(put_sla vm1 '{"priority":1,"bandwidth":{"max_bps":4000000},"ingress":{"priority":1,"bandwidth":{"max_bps":8000000}}}')" 2xx
sleep 0.5
expect "xen-credit: vm1's rate node for what it sends" "$(rate_node 1)" 10000,20000
tc qdisc show dev "vif$(domid 1).0" | grep -q "htb db01: root" &&
	ok "xen-credit: the shaper for what vm1 receives on its vif in dom0" ||
	bad "xen-credit: no shaper on vif$(domid 1).0: $(tc qdisc show dev "vif$(domid 1).0")"
in_tcp_check xen-credit
in_udp_check xen-credit
iperf_tcp 1 6
held "xen-credit: vm1 sent TCP under its credit (4 Mbit/s) with its ingress held too" "$(cat /tmp/r1)" 4
v=$(api /vms/vm1)
expect "xen-credit: what vm1 sends, offered unseen (null); what it receives, offered and dropped seen" \
	"$(echo "$v" | jq -c '[.offered.bps, .vifs[0].ingress.offered.bps != null, .vifs[0].ingress.dropped.bps != null, .vifs[0].ingress.counters.counted]')" \
	'[null,true,true,true]'
expect "DELETE vm1's SLA" "$(del_sla vm1)" 204
stop_agent
expect "xen-credit: no rate node left once the agent stopped" "$(rate_node 1)" none
left=$(for i in 1 2 3; do tc qdisc show dev "vif$(domid "$i").0"; done | grep -c "htb db01:\|clsact" || true)
expect "xen-credit: no shaper and no clsact left on the vifs once the agent stopped" "$left" 0
}

two_ports_check() {
for p in 00:16:3e:00:00:05:1200000 00:16:3e:00:01:05:600000; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/ports/${p%:*}/sla" \
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
		-d "{\"priority\":1,\"ingress\":{\"priority\":1,\"bandwidth\":{\"max_bps\":${p##*:}}}}")
	expect "PUT the SLA of port ${p%:*}, not on the host yet" "$code" 201
done
create 5 "" two
if reachable 5 && domu_cmd 5 "iperf 5202" >/dev/null; then
	wait_present 4 || bad "vm5 not present"
	expect "vm5's two ports, each under its own SLA" "$(api /vms/vm5 | jq -c '[.vifs[].sla_from]')" \
		'["port","port"]'
	sink timeout 35 iperf3 -c 198.18.0.15 -t 11 -J --get-server-output >/tmp/ji5a 2>/dev/null &
	pa=$!
	sink timeout 35 iperf3 -c 198.18.1.15 -p 5202 -t 11 -J --get-server-output >/tmp/ji5b \
		2>/dev/null &
	pb=$!
	# What dom0 handed on to each port from 4 s to 10 s of the 11, on dom0's clock (a domU's
	# iperf3 seconds stretch and shrink under emulation: port b's median second read 0.533
	# against its 0.6 in a run where port a's read 1.194 against 1.2)
	d5=$(domid 5)
	# From 4 s, not 2: the sink's TCP starts against a path of a millisecond, paces fast and
	# sends GSO packets of up to 64 KiB, which fill the shaper's queue (3 of them at least)
	# before the delay it builds (2.6 s at 0.6 Mbit/s) slows it to two segments a packet; the
	# shaper sends a packet whole and pays for it after, so while those drain one at a window's
	# edge moved port b's figure by up to a fifth of the 4 s (0.632 of 0.6 in one round of
	# three, 0.658 in a CI run).
	sent_window 4 6 /tmp/q5a /tmp/q5b "vif$d5.0" "vif$d5.1"
	qpid=$!
	wait "$pa" "$pb" "$qpid"
	# Each address through its own port: what the sink sent to each, by the MAC it resolved
	expect "the sink reaches vm5's two addresses by their own ports' MACs" \
		"$(sink ip neigh show dev eth0 | awk '$1 == "198.18.0.15" || $1 == "198.18.1.15" { print $1 "=" $3 }' | sort | xargs)" \
		"198.18.0.15=00:16:3e:00:00:05 198.18.1.15=00:16:3e:00:01:05"
	n=1
	for f in a:1.2 b:0.6; do
		echo "   vm5's port ${f%:*} as its iperf3 saw it (frames, Mbit/s, median second): $(recv_median "/tmp/ji5${f%:*}")"
		within_fig "vif-police: vm5's port ${f%:*}, TCP handed on by dom0 (frames, Mbit/s, dom0's 4-10 s) vs its own ingress max" \
			"$(sent_rate /tmp/q5a /tmp/q5b "$n" tcp)" "${f#*:}" 5
		n=$((n + 1))
	done
else
	unreachable 5
fi
xl destroy vm5
for m in 00:16:3e:00:00:05 00:16:3e:00:01:05; do
	expect "DELETE port $m's SLA" "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X DELETE \
		"$API/ports/$m/sla" -H 'Authorization: Bearer s3cret0123456789')" 204
done
}

police_ingress_end() {
expect "DELETE vm1's SLA" "$(del_sla vm1)" 204
expect "DELETE vm2's port's SLA" "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X DELETE \
	"$API/ports/$mac/sla" -H 'Authorization: Bearer s3cret0123456789')" 204
stop_agent
left=$(for i in 1 2 3; do tc qdisc show dev "vif$(domid "$i").0"; done | grep -c "htb db01:" || true)
expect "vif-police: no shaper left on the vifs once the agent stopped" "$left" 0
}

# The receive pool under vif-police, the agent told dbavm-up0 carries 6 Mbit/s each way:
# vm2's ingress guarantee (3.5 Mbit/s, class 0) met while vm1, without an SLA, is flooded from
# the sink at 5 Mbit/s, and the flood held at what is left to it (2.5); then a Neutron policy
# with a bandwidth_limit each way, each with a burst, on vm3, accepted and held both ways.
# The flood is policed at the hook with a burst of 5 ms of its rate (two frames here), and the
# emulated machine delivers it in clumps further apart than that: the flood got 2.27-2.71 of
# its 2.5 in six runs (dom0's count, and iperf3's), where the same rates on the netns testbed
# give 2.503 in each of nine rounds (the sink's packets there come as they are sent). At four
# times the rates it got 8.8 of 10, the hook dropping about 430 datagrams a second of what
# the sink was asked for, 1,730 (dom0 emulated could not offer it all). So here the flood must
# stay within 5 % over its limit, and get at least 85 % of it.
# vm<I>'s ingress limit as the agent applied it, over the window between two vif_sent lines
# (FILE_A FILE_B), weighted by the time each value was in force: Mbit/s, then how many times
# it changed in the window, its lowest and its highest. From the agent's own log ("limit
# applied", each change, stamped with dom0's uptime as it came), not from the API: the flood's
# limit moves from period to period (2.0 to 3.0 Mbit/s), and a reading through curl takes one
# to two seconds under emulation, so the two or three readings of a window gave means 10 %
# off what the flood was held to (the flood read 2.229 against a mean of 2.054 once).
limit_over() { # I FILE_A FILE_B
	awk -v k="limit applied vm=vm$1 vif=vif$(domid "$1").0 direction=ingress " \
		-v t0="$(awk '{ print ($1 + $2) / 2 }' "$2")" -v t1="$(awk '{ print ($1 + $2) / 2 }' "$3")" '
		function seen(x) { lo = (!m || x < lo) ? x : lo; hi = (!m || x > hi) ? x : hi; m = 1 }
		BEGIN { last = t0 }
		index($0, k) {
			t = $1 + 0
			v = $0
			sub(/.*limit_bps=/, "", v)
			v += 0
			if (t >= t1)
				exit
			if (t <= t0) {
				cur = v
				have = 1
				next
			}
			if (!have)
				exit # no limit in force as the window began: no figure
			seen(cur)
			s += cur * (t - last)
			last = t
			cur = v
			n++
		}
		END {
			if (have && t1 > t0) {
				seen(cur)
				printf "%.3f %d %.3f %.3f", (s + cur * (t1 - last)) / (t1 - t0) / 1e6, n, lo / 1e6, hi / 1e6
			}
		}' /tmp/agent.log
}
police_pool_checks() {
start_agent --enforcer vif-police --uplinks dbavm-up0:6000000
wait_present 3 || bad "vif-police: $(present) domUs present, want 3"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm2/sla" \
	-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
	-d '{"priority":1,"ingress":{"priority":0,"bandwidth":{"min_bps":3500000,"max_bps":3500000}}}')
expect "vif-police: PUT vm2's ingress guarantee, 3.5 of the 6 Mbit/s received" \
	"$(echo "$code" | sed 's/20[01]/2xx/')" 2xx
sleep 0.5
sink timeout 30 iperf3 -c 198.18.0.11 -u -b 5M -l 1400 -t 9 -J --get-server-output \
	>/tmp/jpf 2>/dev/null &
flood=$!
# The flood's allocation is what vm2's guarantee leaves only while vm2's TCP fills it: TCP's
# dips lend the rest of it to the flood, and it is taken back a period later (vm1's limit read
# 2.99 in the middle of one run; in another the flood got 3.14 over the window, and with vm2's
# 3.46 the two read 6.6 of the 6). So the flood is held to its limit as the agent set it
# through the window (limit_over).
sleep 1.5
in_tcp 2 6
wait "$flood"
within_fig "vif-police: vm2 received TCP beside vm1's flood (frames, Mbit/s, dom0's 2-5 s) vs its guarantee" \
	"$(cat /tmp/ri2)" 3.5 5
# The flood in the same window, as dom0 handed it on (UDP: netback counts whole frames)
got=$(sent_rate /tmp/qa /tmp/qb 2)
set -- $(limit_over 1 /tmp/qa /tmp/qb)
lim=${1:-}
echo "   vm1's flood as its iperf3 saw it (frames, Mbit/s, median second from 3 s): $(jq '[.server_output_json.intervals[].sum | select(.start >= 2.99 and .end <= 7.01)
	| .bits_per_second * 1442 / 1400 / 1e6] | sort
	| if length == 0 then empty else (.[(length - 1) / 2 | floor] + .[length / 2 | floor]) / 2 end' \
	/tmp/jpf 2>/dev/null)"
echo "   vm1's ingress limit over the window: $lim Mbit/s, changed ${2:-?} times (${3:-?} to ${4:-?});" \
	"with vm2's TCP, $(awk -v a="$got" -v b="$(cat /tmp/ri2)" 'BEGIN { print a + b }') of the 6 Mbit/s"
if [ -z "$got" ] || [ -z "$lim" ]; then
	bad "vif-police: vm1's flood beside vm2's TCP: no figure (flood '$got', its limit '$lim')"
else
	below "vif-police: vm1's flood (frames, Mbit/s, dom0's 2-5 s) held to its limit over the window, +5 %" \
		"$got" "$(awk -v l="$lim" 'BEGIN { print l * 1.05 }')"
	above "vif-police: vm1's flood, at least 85 % of its limit over the window (see above)" \
		"$got" "$(awk -v l="$lim" 'BEGIN { print l * 0.85 }')"
fi
expect "DELETE vm2's SLA" "$(del_sla vm2)" 204
# TCP under a max in the same 6 Mbit/s pool, vm1 and vm2 idle beside it. vm3's TCP waits in
# its shaper, so its demand is what passed, probed upward (its max when the shaper held it).
# Judged by what it offered at the hook, as a flood is, its limit fell to its share of the
# headroom whenever emulated TCP offered less for a period (3, 2 and 3 Mbit/s over one window;
# 2.2 of its 3 in three runs of six).
expect "vif-police: PUT vm3's ingress max 3 Mbit/s in the 6 Mbit/s pool" \
	"$(put_sla vm3 '{"priority":1,"ingress":{"priority":7,"bandwidth":{"max_bps":3000000}}}')" 2xx
sleep 0.5
in_tcp 3 6
set -- $(limit_over 3 /tmp/qa /tmp/qb)
echo "   vm3's ingress limit over the window: ${1:-?} Mbit/s, changed ${2:-?} times (${3:-?} to ${4:-?})"
# what its shaper held as the window ended (its classes' rates)
echo "   vm3's shaper as the window ended: $(class_rates /tmp/qb.tc)"
within_fig "vif-police: vm3 received TCP beside idle VMs in the pool (frames, Mbit/s, dom0's 2-5 s) vs its max" \
	"$(cat /tmp/ri3)" 3 5
expect "DELETE vm3's SLA" "$(del_sla vm3)" 204
# The policy alone, on a receive side the agent takes at the link's speed: its burst is
# measured from a quiet start, where in the pool vm3's limit is its share of the headroom (2).
stop_agent || bad "vif-police: the agent's exit status $?"
start_agent --enforcer vif-police
wait_present 3 || bad "vif-police: $(present) domUs present, want 3"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm3/sla" \
	-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
	-d '{"policy":{"id":"p-xen","name":"both","rules":[
	    {"type":"bandwidth_limit","max_kbps":4000,"max_burst_kbps":400,"direction":"egress"},
	    {"type":"bandwidth_limit","max_kbps":3000,"max_burst_kbps":4800,"direction":"ingress"},
	    {"type":"dscp_marking","dscp_mark":26}]}}')
expect "vif-police: a Neutron policy with a limit each way, a burst and a DSCP mark, on vm3" \
	"$(echo "$code" | sed 's/20[01]/2xx/')" 2xx
sleep 0.5
echo "   the sink's TCP metrics for vm3, before: $(sink ip tcp_metrics show 198.18.0.13 2>&1 | head -1)"
in_tcp 3 6
set -- $(limit_over 3 /tmp/qa /tmp/qb)
echo "   vm3's ingress limit over the window: ${1:-?} Mbit/s, changed ${2:-?} times (${3:-?} to ${4:-?});" \
	"vm1's and vm2's at the end: $(api /vms/vm1 | jq -c '.vifs[0].ingress | [.demand.bps, .limit.bps]')" \
	"$(api /vms/vm2 | jq -c '.vifs[0].ingress | [.demand.bps, .limit.bps]')"
within_fig "vif-police: vm3 received TCP under the policy's ingress limit (frames, Mbit/s, dom0's 2-5 s)" \
	"$(cat /tmp/ri3)" 3 5
# The policy's ingress burst, measured: after 2.5 s without traffic (the bucket full again: it
# takes 1.6 s at 3 Mbit/s), 1.4 MB of UDP at 40 Mbit/s (a third of a second); all that passed
# (netback's count, read once the shaper's queue has drained) beyond 3 Mbit/s over the
# flood's time (the sink's, dom0's clock) is the burst: 4800 kbit, 600,000 bytes of frames.
# (A flood of 1 s read 552,390: the rate's part, policed under emulation's clumps, is short
# by a few per cent of itself, and the shorter the flood the less of it there is.)
sleep 2.5
vif_sent "vif$(domid 3).0" >/tmp/qba
sink timeout 20 iperf3 -c 198.18.0.13 -u -b 40M -l 1400 -n 1400K -J >/tmp/jb3 2>/dev/null
sleep 1.5
vif_sent "vif$(domid 3).0" >/tmp/qbb
secs=$(jq '.end.sum.seconds' /tmp/jb3 2>/dev/null)
got=$(paste -d' ' /tmp/qba /tmp/qbb | awk '{ print $7 - $3 }')
echo "   vm3's burst: $got bytes passed of a flood of $secs s"
case $secs in
'' | null) bad "vif-police: vm3's ingress burst: no figure (iperf3 said nothing)" ;;
*) within "vif-police: vm3's ingress burst (frames, bytes beyond 3 Mbit/s) vs the policy's 4800 kbit" \
	"$(awk -v p="$got" -v t="$secs" 'BEGIN { printf "%.0f", p - 3e6 / 8 * t }')" 600000 10 ;;
esac
# The mark on the wire: the sink counts the IPv4 packets it gets with DSCP 26 (TOS 0x68) in a
# u32 filter on its own interface; what vm3 sends is all marked at the hook in dom0 (its UDP,
# and a few segments of iperf3's control connection), what it did not send never.
sink tc qdisc add dev eth0 clsact
sink tc filter add dev eth0 ingress protocol ip pref 1 u32 match ip tos 0x68 0xfc action ok ||
	bad "the sink's DSCP counter (u32) not added"
iperf_udp 3 6 8M
within "vif-police: vm3 sent UDP at 8 Mbit/s under the policy's egress limit (wire, Mbit/s)" \
	"$(wire "$(cat /tmp/r3)")" 4 5
marked=$(sink tc -s filter show dev eth0 ingress | awk '$1 == "Sent" { print $4; exit }')
sink tc qdisc del dev eth0 clsact
udp=$(cat /tmp/p3)
if [ -z "$marked" ] || [ -z "$udp" ] || [ "$udp" -le 0 ]; then
	bad "vif-police: DSCP at the sink: no count (marked '$marked', UDP received '$udp')"
else
	awk -v m="$marked" -v u="$udp" 'BEGIN { exit !(m >= u && m <= u + 200) }' &&
		ok "vif-police: the sink got vm3's $udp UDP datagrams with DSCP 26 ($marked packets marked)" ||
		bad "vif-police: DSCP 26 at the sink on $marked packets, vm3's UDP $udp (want all, and at most 200 more)"
fi
expect "DELETE vm3's SLA" "$(del_sla vm3)" 204
stop_agent
}

packet_checks() {
echo "== packet limits under xen-credit: 64-, 512- and 1500-byte frames, and a VM switching"
start_agent
wait_present 3
expect "PUT vm1: 1000 packet/s, 100 Mbit/s" "$(put vm1 100000000 1000 | sed 's/20[01]/2xx/')" 2xx
sleep 0.5
expect "vm1's allocation: 1000 packet/s" "$(api /vms/vm1 | jq .vifs[0].limit.pps)" 1000
# 3x the limit offered; each frame size in turn, each switched to while the last runs, then
# back to the smallest: a VM switching frame size is held again from 1 s after the switch.
e0=$(eg_limited 1) || bad "xen-credit: vm1's limited series (egress, pps) absent"
pkt_sequence 1 1000 3000 64 512 1500 64
e1=$(eg_limited 1) || bad "xen-credit: vm1's limited series (egress, pps) absent"
# "Allowance exceeded" under xen-credit, the agent's estimate (what the credit holds waits in
# the guest: the sink lost nothing, pktgen waited): every frame the sink got in the phases
# passed while the credit held vm1, and the credit held it as long as the sink's frames took
# at its 1,000 a second. (Not pktgen's time in dom0's clock: 32.6 s of commands for 29.5 s
# of frames at the limit, each start and stop in the domU taking its time.)
set -- $e0 $e1
echo "xen-credit: vm1's estimate over the phases: $(($3 - $1)) packets limited by its packet" \
	"rate, $(awk -v a="$2" -v b="$4" 'BEGIN { print b - a }') s; the sink $sp frames;" \
	"pktgen ran $(awk -v a="$seq_t0" -v b="$seq_t1" 'BEGIN { print b - a }') s"
expect "xen-credit: limited counts marked as an estimate" \
	"$(api /vms/vm1 | jq -c '.vifs[0].limited.estimated')" true
within "xen-credit: vm1's packets limited (estimate) vs the frames the sink got while held" \
	"$(($3 - $1))" "${sp:-0}" 10
within "xen-credit: vm1's seconds limited (estimate) vs the sink's frames at its 1000/s" \
	"$(awk -v a="$2" -v b="$4" 'BEGIN { print b - a }')" \
	"$(awk -v p="${sp:-0}" 'BEGIN { print p / 1000 }')" 10
# Half its limit: not held, and not counted
domu_cmd 1 "pg $sink_mac 500 64 6" >/dev/null
e0=$(eg_limited 1)
sleep 5
e1=$(eg_limited 1)
domu_cmd 1 stop >/dev/null
set -- $e0 $e1
below "xen-credit: vm1 at half its packet limit for 5 s, seconds limited (estimate)" \
	"$(awk -v a="$2" -v b="$4" 'BEGIN { print b - a }')" 0.5
# Held by its packet limit, the VM shows a demand at it (the allocator's upward probe).
sleep 0.3
domu_cmd 1 "pg $sink_mac 3000 64 15" >/dev/null # stopped below, after the checks
sleep 2.5
# Read first: a shell command here takes a second or more under emulation.
r=$(api /vms/vm1 | jq -c '[.vifs[0].ring, .vifs[0].demand.pps, .vifs[0].limit.pps]')
echo "netback's io_ring_q0 of vif$(domid 1).0, held:"
sed 's/^/   /' "/sys/kernel/debug/xen-netback/vif$(domid 1).0/io_ring_q0"
above "vm1 held at its packet limit: its demand (packet/s) at least its limit" \
	"$(echo "$r" | jq '.[1]')" "$(echo "$r" | jq '.[2]')"
# The ring is one reading a second, an instant: netback's credit timer is pending while it
# holds the guest, but not from the moment it fires until netback has taken the next window's
# credit (on a loaded emulator, a reading fell there: a backlog of 237 slots, no timer). The
# agent's next readings, up to four, a second apart: one of them shows the hold.
rings=$(echo "$r" | jq -c '.[0]')
for k in 1 2 3 4; do
	echo "$r" | jq -e '.[0].credit_waiting == true and .[0].backlog_slots > 0' >/dev/null && break
	sleep 1
	r=$(api /vms/vm1 | jq -c '[.vifs[0].ring]')
	rings="$rings $(echo "$r" | jq -c '.[0]')"
done
echo "$r" | jq -e '.[0].credit_waiting == true and .[0].backlog_slots > 0' >/dev/null &&
	ok "xen-credit: vm1's ring, held: $rings (the credit's hold, as dom0 sees it)" ||
	bad "xen-credit: vm1's ring while held: $rings, want a backlog with the credit waiting"
api /metrics | grep -q "^dbavm_vif_credit_waiting{vm=\"vm1\"" &&
	ok "xen-credit: the ring's state in /metrics" || bad "xen-credit: no ring state in /metrics"
domu_cmd 1 stop >/dev/null
v=$(api /vms/vm1)
expect "xen-credit: offered and dropped not seen, null (never passed and 0)" \
	"$(echo "$v" | jq -c '[.offered, .dropped, .vifs[0].offered, .loss.policy]')" \
	'[{"bps":null,"pps":null},{"bps":null,"pps":null},{"bps":null,"pps":null},{"pps":null,"ratio":null}]'
api /metrics >/tmp/metrics
grep -q '^dbavm_vm_offered_packets_total{vm="vm1"}' /tmp/metrics &&
	bad "xen-credit: an offered series in /metrics" || ok "xen-credit: no offered series in /metrics"
grep -q '^dbavm_vm_lost_packets_total{vm="vm1",cause="policy"}' /tmp/metrics &&
	bad "xen-credit: a policy-loss series in /metrics" || ok "xen-credit: no policy-loss series"
sleep 2
echo "vm1 as the agent reports it under xen-credit:"
api /vms/vm1 | jq -M -c '{passed, offered, loss, delay: .delay.total, jitter_s}'
expect "xen-credit: delay measured through dom0 (samples)" \
	"$(api /vms/vm1 | jq '.delay.total.samples > 0')" true
expect "xen-credit: jitter reported" "$(api /vms/vm1 | jq '.jitter_s != null')" true
expect "xen-credit: path loss reported" "$(api /vms/vm1 | jq '.loss.path.pps != null')" true
stop_agent

echo "== none on xen: offered seen, delay through dom0"
start_agent --enforcer none
wait_present 3
domu_cmd 2 "pg $sink_mac 1000 512 10" >/dev/null
sleep 4
v=$(api /vms/vm2)
echo "vm2 under none: $(echo "$v" | jq -c '{offered, passed, loss, delay: .delay.total, jitter_s}')"
# The median of the last 3 s, read each second while pktgen runs, the best of them: under
# emulation the domU's pktgen itself fell behind for a second or two in one run of three
# (737 read at one instant, with 0 in the period read then).
best=0 seen=""
for _ in 1 2 3 4; do
	m=$(hist_median 2 offered.pps)
	seen="$seen $m"
	best=$(awk -v a="$best" -v b="${m:-0}" 'BEGIN { print (b > a ? b : a) }')
	awk -v b="$best" 'BEGIN { exit !(b >= 800) }' && break
	sleep 1
done
echo "vm2's offered packet/s, the median of its last 3 s, read each second:$seen"
above "none: vm2's offered packet/s (1000 sent; the median of 3 s, the best while it runs)" \
	"$best" 800
domu_cmd 2 stop >/dev/null
expect "none: policy loss 0, path loss measured" "$(echo "$v" | jq -c '[.loss.policy.pps, (.loss.path.pps != null)]')" '[0,true]'
expect "none: delay samples" "$(echo "$v" | jq '.delay.total.samples > 0')" true
stop_agent

echo "== delay, jitter and path loss through dom0, against the sink's own measure"
path_checks 2 dbavm-up0 3

echo "== vif-police on xen: the hook's policer on each vif in dom0, after the copy"
police_checks 1 3

echo "== vif-police on xen: what each VM receives, held on its vif in dom0 before the copy"
police_ingress_checks
echo "== vif-police on xen: the receive pool, a guarantee beside a flood; a Neutron policy"
police_pool_checks

echo "== xen-credit on xen: what each VM receives, held on its vif in dom0 before the copy"
credit_ingress_checks

echo "== netback on xen: an HTB on the uplink in dom0, after the copy"
start_agent --enforcer netback --uplinks dbavm-up0:100000000
wait_present 3
expect "the enforcer" "$(api /host | jq -r .enforcer)" netback
put vm1 4000000 >/dev/null
sleep 0.5
expect "netback: no rate node (it holds nothing in the guest)" "$(rate_node 1)" none
tc qdisc show dev dbavm-up0 | grep -q "htb db: root" && ok "netback: its HTB on dbavm-up0" ||
	bad "netback: no HTB on dbavm-up0: $(tc qdisc show dev dbavm-up0)"
iperf_tcp 1 6
held "netback: vm1 TCP Mbit/s under its 4 Mbit/s limit" "$(cat /tmp/r1)" 4
# 64-byte frames, which netback copies whole: larger ones it maps, and the guest's slots stay
# taken while HTB queues them, so netback stops taking from the ring (back-pressure, not a
# drop). 2000 a second, 1 Mbit/s, against a limit of 500 kbit/s.
expect "PUT vm1 500 kbit/s" "$(put vm1 500000)" 200
domu_cmd 1 "pg $sink_mac 2000 64 6" >/dev/null
sleep 1
sink pgsink eth0 3 >/tmp/pgsink.out
v=$(api /vms/vm1)
set -- "$(hist_median 1 offered.pps)" "$(hist_median 1 passed.pps)" "$(hist_median 1 dropped.pps)"
domu_cmd 1 stop >/dev/null
echo "vm1 under netback (medians of its last 3 s): offered $1/s, passed $2/s, dropped $3/s;" \
	"the sink: $(cat /tmp/pgsink.out)"
above "netback: vm1's offered packets a second (2000 sent)" "$1" 1600
# What reached dom0 beyond what HTB sent was copied for nothing: queued, then dropped (HTB
# counts its drops in bursts: a second's figure says little, the total says they happen).
above "netback: offered beyond what passed, packets a second" "$(($1 - $2))" 500
m=$(api /metrics)
above "netback: its drops counted as path loss" \
	"$(echo "$m" | awk '$1 == "dbavm_vm_lost_packets_total{vm=\"vm1\",cause=\"path\"}" { print $2 }')" 1
expect "netback: no policy loss (series absent, null in the API)" \
	"$(echo "$m" | grep -c 'cause="policy"'):$(echo "$v" | jq -c .loss.policy.pps)" "0:null"
sleep 1.5
expect "DELETE vm1's SLA (the checks after these start without one)" "$(del_sla vm1)" 204
stop_agent && ok "netback: exit status 0" || bad "netback: exit status $?"
tc qdisc show dev dbavm-up0 | grep -q "htb db: root" && bad "netback: its HTB left behind" ||
	ok "netback: its HTB removed on exit"
}

# ---- the paper's scenario 2, scaled by 1/16: a wire of 62.5 Mbit/s (an HTB on the uplink),
# a host budget of 11,875 packet/s; SLAs (min = max bit rate, max packet rate) vm1 9.375
# Mbit/s and 1,250 packet/s, vm2 43.75 Mbit/s and 3,750, vm3 9.375 Mbit/s and 3,750. vm1 and
# vm3 flood 64-byte frames at 3x their packet limit, vm2 sends 1500-byte frames at 1.25x its
# bit limit, each from pktgen in its domU. The allocation: vm1 1,250 and vm3 3,750 packet/s,
# vm2 43.75 Mbit/s.
S2_LOAD="1:3750:64 3:11250:64 2:4557:1500"
s2_put() { # I BPS PPS
	curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm$1/sla" \
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
		-d "{\"priority\":1,\"bandwidth\":{\"min_bps\":$2,\"max_bps\":$2},
		     \"packet_rate\":{\"min_pps\":0,\"max_pps\":$3}}"
}
dom_cpu_s() { xl list | awk -v d="$1" '$1 == d { print $6 }'; } # Xen's CPU seconds of domain D
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# The sink counts each VM's pktgen frames in the kernel (a tc filter a source MAC for UDP to
# port 9, dropping them on arrival; the commands' TCP passes), so that counting costs dom0,
# where the sink's namespace is, next to nothing. tc counts bytes from the IP header: the 14
# bytes of Ethernet header are added back for Mbit/s.
s2_sink_filters() {
	sink tc qdisc add dev eth0 clsact
	for i in 1 2 3; do
		sink tc filter add dev eth0 ingress pref "$i" protocol ip flower \
			src_mac "00:16:3e:00:00:0$i" ip_proto udp dst_port 9 action drop
	done
}
s2_sink_counts() { # "packets bytes" of vm1, vm2, vm3, one VM a line
	sink tc -s -j filter show dev eth0 ingress | jq -r '
		[.[] | select(.options.keys.src_mac != null) |
		 {m: .options.keys.src_mac, p: .options.actions[0].stats.packets, b: .options.actions[0].stats.bytes}] |
		sort_by(.m) | .[] | "\(.p) \(.b)"'
}
proc_cpu_s() { # PID: the process's CPU seconds, as dom0's kernel accounts them
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}
# Limits set by hand, with no agent in dom0: what each mechanism costs on its own.
# police: tc's act_police on the vif's ingress in dom0 (after netback's copy), each VM's
# packet limit; credit: netback's rate node, the VM's packet limit times its 64-byte frame per
# 20 ms window (what the agent writes for it).
s2_hand() { # police|credit ON
	for i in 1 3; do
		d=$(domid "$i") p=$([ "$i" = 1 ] && echo 1250 || echo 3750)
		case "$1" in
		police) if [ "$2" = on ]; then
			tc qdisc add dev "vif$d.0" clsact
			tc filter add dev "vif$d.0" ingress matchall action police pkts_rate "$p" \
				pkts_burst $((p / 50)) conform-exceed drop
		else tc qdisc del dev "vif$d.0" clsact; fi ;;
		credit) if [ "$2" = on ]; then
			xenstore-write "/local/domain/0/backend/vif/$d/0/rate" "$((p * 64 / 50)),20000"
		else xenstore-rm "/local/domain/0/backend/vif/$d/0/rate"; fi ;;
		esac
	done
}
# One mode: SENDERS (1 3, or 1 2 3) under ENFORCER (an agent's, or hand-police or hand-credit
# with no agent); S2 lines for each VM and for dom0. Nothing runs in dom0 during the 8 s
# measured but a sleep.
s2_run() { # ENFORCER "SENDERS"
	case "$1" in
	hand-*) agent="" && s2_hand "${1#hand-}" on ;;
	*)
		start_agent --enforcer "$1" --uplinks dbavm-up0:62500000 --host-pps 11875 ||
			return
		wait_present 3
		s2_put 1 9375000 1250 >/dev/null
		s2_put 2 43750000 3750 >/dev/null
		s2_put 3 9375000 3750 >/dev/null
		;;
	esac
	sleep 0.5
	# Each flood runs well past the reads below: a saturated dom0 takes seconds for each.
	for l in $S2_LOAD; do
		i=${l%%:*}
		case " $2 " in *" $i "*) ;; *) continue ;; esac
		r=${l#*:}
		domu_cmd "$i" "pg $sink_mac ${r%%:*} ${r#*:} 40" >/dev/null
	done
	sleep 4
	# One /metrics read for the three VMs at each end; the agent's rates over the time
	# between the two reads, the sink's over the time between its two.
	[ -n "$agent" ] && api /metrics >/tmp/s2.m0 &&
		st=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print $20 / hz }' "/proc/$agent/stat")
	# Each count is timed at the middle of the command that reads it: a saturated dom0
	# takes a second or more to run one, and the sink's rates were 12-37 % high when timed
	# at the window's ends instead.
	s0=$(now)
	s2_sink_counts >/tmp/s2.sink0
	s1=$(now)
	c0=$(dom_cpu_s Domain-0) j0=$(busy_jiffies) t0=$(now)
	[ -n "$agent" ] && a0=$(proc_cpu_s "$agent")
	sleep 8
	c1=$(dom_cpu_s Domain-0) j1=$(busy_jiffies) t1=$(now)
	[ -n "$agent" ] && a1=$(proc_cpu_s "$agent")
	s2=$(now)
	s2_sink_counts >/tmp/s2.sink1
	s3=$(now)
	sdt=$(awk -v a="$s0" -v b="$s1" -v c="$s2" -v d="$s3" 'BEGIN { print (c + d) / 2 - (a + b) / 2 }')
	dt=$(awk -v s="$t0" -v e="$t1" 'BEGIN { print e - s }')
	for i in 1 2 3; do
		if [ -z "$agent" ]; then
			echo "-1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 null null null 0" >"/tmp/s2.a$i"
			# the limits set by hand
			case $i in
			1) echo '{"vifs":[{"limit":{"pps":1250,"bps":null}}]}' ;;
			3) echo '{"vifs":[{"limit":{"pps":3750,"bps":null}}]}' ;;
			*) echo '{}' ;;
			esac >"/tmp/s2.v$i"
			continue
		fi
		# The agent's own seconds (its history, each over its measured time) that end in
		# the sink's window; medians, and how many. Its t_ms counts from its loop's start,
		# within a few hundred ms of the process's (dom0's uptime at it: /proc/PID/stat).
		# Read while the floods still run. (A dom0 saturated by the floods answers slowly:
		# up to 30 s.)
		h=$(curl -sf -m 30 "$API/vms/vm$i/stats" | jq -r \
			--argjson a "$(echo "$s1 $st" | awk '{ print $1 - $2 }')" \
			--argjson b "$(echo "$s2 $st" | awk '{ print $1 - $2 }')" '
			[.periods[] | select(.t_ms > ($a + 1) * 1000 and .t_ms <= $b * 1000)] |
			def med(f): [.[] | f // 0] | sort | if length > 0 then .[length / 2 | floor] else null end;
			"\(med(.passed.pps)) \(med(.offered.pps)) \(med(.dropped.pps)) \(length)"')
		curl -sf -m 30 "$API/vms/vm$i" >"/tmp/s2.v$i" || echo '{}' >"/tmp/s2.v$i"
		echo "$h" >"/tmp/s2.h$i"
	done
	if [ -n "$agent" ]; then
		api /metrics >/tmp/s2.m1
		for i in 1 2 3; do
			echo "$(vm_mark $i </tmp/s2.m0) $(vm_mark $i </tmp/s2.m1) $(cat "/tmp/s2.h$i")" >"/tmp/s2.a$i"
		done
	fi
	for i in 1 2 3; do
		v=$(cat "/tmp/s2.v$i")
		sk=$(paste -d' ' /tmp/s2.sink0 /tmp/s2.sink1 | sed -n "${i}p")
		echo "S2 mode=$1 senders=$(echo $2 | tr ' ' ,) vm=vm$i" \
			"$(echo "$sk" | awk -v dt="$sdt" '{ printf "sink_pps=%.1f sink_mbps=%.3f", ($3 - $1) / dt, ($4 - $2 + 14 * ($3 - $1)) * 8 / dt / 1e6 }')" \
			"alloc_pps=$(echo "$v" | jq '.vifs[0].limit.pps')" \
			"alloc_bps=$(echo "$v" | jq '.vifs[0].limit.bps')" \
			"$(awk '{
				n = $8 - $2; o = $10 - $4; d = $11 - $5; l = $12 - $6
				printf "agent_pps=%s agent_offered_pps=%s agent_policy_loss=%s agent_path_loss=%s agent_seconds=%s",
					$13, ($4 < 0 ? "null" : $14),
					($5 < 0 || o <= 0 ? "null" : sprintf("%.4f", d / o)),
					($6 < 0 || n <= 0 ? "null" : sprintf("%.4f", l / n)), $16 }' "/tmp/s2.a$i")" \
			"agent_delay_p50_s=$(echo "$v" | jq '.delay.total.p50_s')" \
			"agent_jitter_s=$(echo "$v" | jq '.jitter_s')"
	done
	echo "S2 mode=$1 senders=$(echo $2 | tr ' ' ,) dom0" \
		"xen_cpu_pct=$(awk -v a="$c0" -v b="$c1" -v dt="$dt" 'BEGIN { printf "%.1f", (b - a) / dt * 100 }')" \
		"procstat_cpu_pct=$(awk -v a="$j0" -v b="$j1" -v dt="$dt" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz / dt * 100 }')" \
		"agent_cpu_pct=$([ -n "$agent" ] && awk -v a="$a0" -v b="$a1" -v dt="$dt" 'BEGIN { printf "%.1f", (b - a) / dt * 100 }' || echo null)"
	for i in 1 2 3; do domu_cmd "$i" stop >/dev/null; done
	case "$1" in
	hand-*) s2_hand "${1#hand-}" off ;;
	*) stop_agent ;;
	esac
	sleep 1
}

if [ "$MODE" = scenario2 ]; then
	s2_sink_filters
	tc qdisc add dev dbavm-up0 root handle 1: htb default 1
	tc class add dev dbavm-up0 parent 1: classid 1:1 htb rate 62500kbit ceil 62500kbit burst 64k cburst 64k
	# dom0 with the agent and no traffic: what the floods add to it is their cost.
	s2_run none ""
	for enf in none vif-police xen-credit; do s2_run "$enf" "1 2 3"; done
	for enf in none vif-police xen-credit hand-police hand-credit; do s2_run "$enf" "1 3"; done
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	grep -v 'level=info\|level=debug' /tmp/agent.log | tail -20
	exit 0
fi

# ---- ingress: what dom0's CPU pays for a packet sent to a guest, let through netback's
# receive copy into a guest that drops it (64-byte UDP frames to vm1's MAC, for an address
# that is not vm1's: its kernel drops them), against dropped before that copy by vif-police's
# hook on the vif's tc egress in dom0 (vm1's ingress held to 100 packet/s). The flood comes
# from vm3's pktgen (a domU, on the other CPU), so that dom0 pays the same for taking it from
# vm3 in every mode, and only the copy into vm1 differs. The agent (vif-police) runs in every
# mode (vm1 without an SLA while let through), so that its own cost is the same too. dom0's
# CPU by Xen's accounting (xl list) over 8 s in the middle of each 14 s flood; what dom0 took
# from vm3 and what it handed on to vm1, from the vifs' counters. ING lines, one per mode.
ING_PPS=1000
ing_measure() { # NAME PPS (0: no flood)
	[ "$2" -eq 0 ] || domu_cmd 3 "pg 00:16:3e:00:00:01 $2 64 14" >/dev/null
	sleep 3
	from="/sys/class/net/vif$(domid 3).0/statistics/rx_packets"
	to="/sys/class/net/vif$(domid 1).0/statistics/tx_packets"
	c0=$(dom_cpu_s Domain-0) f0=$(cat "$from") g0=$(cat "$to") t0=$(now)
	sleep 8
	c1=$(dom_cpu_s Domain-0) f1=$(cat "$from") g1=$(cat "$to") t1=$(now)
	echo "ING mode=$1" \
		"$(awk -v c0="$c0" -v c1="$c1" -v g0="$g0" -v g1="$g1" -v f0="$f0" -v f1="$f1" \
			-v t0="$t0" -v t1="$t1" 'BEGIN { dt = t1 - t0
			printf "offered_pps=%.1f to_guest_pps=%.1f dom0_cpu_pct=%.2f", (f1 - f0) / dt,
				(g1 - g0) / dt, (c1 - c0) / dt * 100 }')"
	domu_cmd 3 stop >/dev/null
	sleep 4
}
if [ "$MODE" = ingress ]; then
	start_agent --enforcer vif-police --uplinks dbavm-up0:1000000000 || exit 1
	wait_present 3
	for round in 1 2 3 4 5; do
		ing_measure idle 0
		ing_measure through "$ING_PPS"
		code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm1/sla" \
			-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
			-d '{"ingress":{"priority":1,"packet_rate":{"max_pps":100}}}')
		case $code in 20[01]) ;; *) echo "ING PUT vm1's ingress limit: $code" ;; esac
		sleep 0.5
		ing_measure dropped "$ING_PPS"
		curl -s -o /dev/null -m 5 -X DELETE "$API/vms/vm1/sla" -H 'Authorization: Bearer s3cret0123456789'
		sleep 0.5
	done
	stop_agent
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	grep -v 'level=info\|level=debug' /tmp/agent.log | tail -20
	exit 0
fi

# TCP through the enforcers: four flows from each of two VMs at once, of two classes, on an
# uplink the agent is told carries 10 Mbit/s: vm1 class 0 held to 4 Mbit/s (min = max), vm2
# class 3 with 1 Mbit/s guaranteed and 6 at most, which the allocator gives it. Judged like
# the other TCP checks here (a third to four thirds of the limit: held, not stalled) under
# xen-credit; under vif-police, which drops TCP in dom0 after the copy, printed.
tcp_classes() {
echo "== TCP, four flows a VM, beside a VM of another class"
cls_put() { # I PRIORITY MIN MAX
	curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm$1/sla" \
		-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
		-d "{\"priority\":$2,\"bandwidth\":{\"min_bps\":$3,\"max_bps\":$4}}"
}
for enf in xen-credit vif-police; do
	start_agent --enforcer "$enf" --uplinks dbavm-up0:10000000
	wait_present 3
	cls_put 1 0 4000000 4000000 >/dev/null
	cls_put 2 3 1000000 6000000 >/dev/null
	sleep 0.5
	for i in 1 2; do
		sink timeout 40 iperf3 -c "198.18.0.1$i" -R -P 4 -O 2 -t 8 -J >"/tmp/c$i" 2>/dev/null &
		eval "c$i=\$!"
	done
	# vm2's allocation once it sends (idle, it has its guarantee and a share of the headroom)
	sleep 6
	lim2=$(api /vms/vm2 | jq '.vifs[0].limit.bps / 1e6')
	# shellcheck disable=SC2154 # set by the eval
	wait "$c1" "$c2"
	g1=$(jq '.end.sum_received.bits_per_second / 1e6' /tmp/c1 2>/dev/null || echo 0)
	g2=$(jq '.end.sum_received.bits_per_second / 1e6' /tmp/c2 2>/dev/null || echo 0)
	echo "$enf: vm1 (class 0, 4 Mbit/s) $g1 Mbit/s, vm2 (class 3, allocated $lim2) $g2 Mbit/s"
	if [ "$enf" = xen-credit ]; then
		held "xen-credit: vm1's four TCP flows (class 0), Mbit/s" "$g1" 4
		held "xen-credit: vm2's four TCP flows beside them (class 3), Mbit/s" "$g2" "$lim2"
	fi
	expect "$enf: DELETE vm1's SLA" "$(del_sla vm1)" 204
	expect "$enf: DELETE vm2's SLA" "$(del_sla vm2)" 204
	stop_agent
done
}

# vm4 on an Open vSwitch bridge, ovsbr0, whose one other port dbavm-up1 is a veth to a sink
# of its own (dbavm-sink2): the checks' sink while it is up.
ovs_up() {
echo "== Open vSwitch: vm4 on an OVS bridge (xl's vif-openvswitch), found with its uplink"
command -v ovs-vsctl >/dev/null || {
	bad "no Open vSwitch in dom0"
	return 1
}
ip netns add dbavm-sink2
ip link add dbavm-up1 type veth peer name eth0 netns dbavm-sink2
ovs-vsctl add-br ovsbr0 && ovs-vsctl add-port ovsbr0 dbavm-up1 || bad "ovs-vsctl add-br, add-port"
ip link set ovsbr0 up
ip link set dbavm-up1 up
ip -n dbavm-sink2 link set lo up
ip -n dbavm-sink2 addr add 198.18.0.254/24 dev eth0
ip -n dbavm-sink2 link set eth0 up
SINK_NS=dbavm-sink2
create 4 "bridge=ovsbr0,script=vif-openvswitch"
reachable 4 || unreachable 4
ovs-vsctl list-ports ovsbr0 | grep -q "^vif$(domid 4).0$" && ok "vm4's vif is a port of ovsbr0" ||
	bad "vm4's vif not on ovsbr0: $(ovs-vsctl list-ports ovsbr0 | xargs)"
sink_mac_xenbr0=$sink_mac
sink_mac=$(sink cat /sys/class/net/eth0/address)
}
ovs_down() {
xl destroy vm4
sink_mac=$sink_mac_xenbr0
SINK_NS=dbavm-sink
ovs-vsctl del-br ovsbr0
ip netns del dbavm-sink2
}
# On OVS, the checks made above on xenbr0: found with its uplink; packet limits under
# xen-credit; TCP held; the dom0-side enforcer; delay, jitter and path loss.
ovs_checks() {
ovs_up || return
start_agent
wait_present 4 || bad "$(present) domUs present, want 4"
grep -q "bridge is Open vSwitch's, .* bridge=ovsbr0 uplink=dbavm-up1" /tmp/agent.log &&
	ok "logged: ovsbr0 is Open vSwitch's, its uplink dbavm-up1" || bad "OVS uplink not found"
expect "the uplinks: xenbr0's and ovsbr0's" \
	"$(api /host | jq -c '[.uplinks[].name] | sort')" '["dbavm-up0","dbavm-up1"]'
expect "vm4's vif leaves by dbavm-up1" "$(api /vms/vm4 | jq -r '.vifs[0].uplink')" dbavm-up1
# The orchestrator's id, as Nova's os-vif writes it on the Interface row: pushed to the agent
# by dom0's ovsdb-server, and the port found by it.
port4=7a1c9e30-5d2b-4f6a-9c8e-1b2d3f4a5b6c
ovs-vsctl set Interface "vif$(domid 4).0" "external_ids:iface-id=$port4" || bad "ovs-vsctl set iface-id"
n=0
until [ "$(api "/ports/$port4" | jq -r .vm 2>/dev/null)" = vm4 ] || [ "$n" -ge 20 ]; do
	sleep 0.1
	n=$((n + 1))
done
expect "vm4's port found by its iface-id (Neutron's port id) from ovsdb-server, in $((n * 100)) ms or less" \
	"$(api "/ports/$port4" | jq -c '[.vm, .vif.id, .port_id]')" "[\"vm4\",\"vif$(domid 4).0\",\"$port4\"]"
expect "PUT vm4: 1000 packet/s" "$(put vm4 100000000 1000)" 201
sleep 0.5
pkt_sequence 4 1000 3000 64 1500
expect "vm4 on OVS: delay measured through dom0" "$(api /vms/vm4 | jq '.delay.total.samples > 0')" true
# TCP through the credit on OVS: one flow, held at a 4 Mbit/s limit, not stalled (a third to
# four thirds of it, as the other TCP checks here).
expect "PUT vm4: 4 Mbit/s" "$(put vm4 4000000 | sed 's/20[01]/2xx/')" 2xx
sleep 0.5
sink timeout 30 iperf3 -c 198.18.0.14 -R -O 2 -t 6 -J >/tmp/c4 2>/dev/null
got=$(jq '.end.sum_received.bits_per_second / 1e6' /tmp/c4 2>/dev/null || echo 0)
awk -v g="$got" 'BEGIN { exit !(g >= 4 / 3 && g <= 16 / 3) }' &&
	ok "xen-credit on OVS: TCP held at 4 Mbit/s: $got" ||
	bad "xen-credit on OVS: TCP at a 4 Mbit/s limit got $got Mbit/s"
expect "DELETE vm4's SLA" "$(del_sla vm4)" 204
stop_agent
echo "== vif-police on OVS"
police_checks 4 4
echo "== delay, jitter and path loss through dom0 on OVS, against the sink's own measure"
path_checks 4 dbavm-up1 4
ovs_down
}

# The checks whose noise is in question, each three times on each bridge: vif-police's counts
# and the path's delay and jitter against the sink's and dom0's packet taps.
if [ "$MODE" = repeat ]; then
	for k in 1 2 3; do echo "== xenbr0, round $k"; police_checks 1 3; path_checks 2 dbavm-up0 3; done
	ovs_up
	for k in 1 2 3; do echo "== OVS, round $k"; police_checks 4 4; path_checks 4 dbavm-up1 4; done
	ovs_down
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	check_done
	exit
fi

# The demo's ingress part on Xen (tests/testbed/demo.sh, DEMO_XEN=1), at 1/16 of its netns
# scale (a receive side of 6 Mbit/s): vm1, without an SLA, flooded from the sink with 5 Mbit/s
# of UDP, beside vm2 receiving TCP and sold 3.5 Mbit/s of it; under none, then vif-police,
# which holds it on each vif in dom0 before netback's copy. What dom0 handed each over the same
# 3 s (netback's counts, on dom0's clock), what vif-police dropped of the flood, and dom0's CPU
# by Xen's accounting over the flood, as DIN lines.
if [ "$MODE" = demoin ]; then
	for enf in none vif-police; do
		start_agent --enforcer "$enf" --uplinks dbavm-up0:6000000
		wait_present 3 || bad "$enf: $(present) domUs present, want 3"
		if [ "$enf" = vif-police ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "$API/vms/vm2/sla" \
				-H 'Authorization: Bearer s3cret0123456789' -H 'Content-Type: application/json' \
				-d '{"priority":1,"ingress":{"priority":0,"bandwidth":{"min_bps":3500000,"max_bps":3500000}}}')
			expect "$enf: PUT vm2's ingress guarantee" "$(echo "$code" | sed 's/20[01]/2xx/')" 2xx
			d0=$(in_metric dbavm_vif_dropped_packets_total 1)
		fi
		sleep 0.5
		c0=$(dom_cpu_s Domain-0) t0=$(now)
		sink timeout 30 iperf3 -c 198.18.0.11 -u -b 5M -l 1400 -t 9 -J >/tmp/jdf 2>/dev/null &
		flood=$!
		sleep 1.5
		in_tcp 2 6
		wait "$flood"
		c1=$(dom_cpu_s Domain-0) t1=$(now)
		dropped=-
		[ "$enf" = vif-police ] && dropped=$(($(in_metric dbavm_vif_dropped_packets_total 1) - d0))
		echo "DIN mode=$enf vm1_mbps=$(sent_rate /tmp/qa /tmp/qb 2) vm2_mbps=$(cat /tmp/ri2)" \
			"vm1_dropped=$dropped vm1_lost=$(jq '.end.sum.lost_packets' /tmp/jdf 2>/dev/null)" \
			"xen_cpu_pct=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", (b - a) / (e - s) * 100 }')"
		stop_agent || bad "$enf: the agent's exit status $?"
	done
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	check_done
	exit
fi

# What each VM receives under vif-police, three times: the TCP, flood and pool figures. From
# domUs that have finished booting: the first round, begun as they came up, read vm1's TCP
# 7.33 of its 8 and vm5's port b 0.657 of 0.6 (iperf3 0.533: segments sent twice) in one run of
# three, each guest's own start still taking the emulated CPUs; in test mode these checks come
# 100 s later.
if [ "$MODE" = police ]; then
	n=0
	while [ "$n" -lt 15 ]; do # the three domUs together under 5 % of a CPU over 2 s
		c0=$(xl list | awk '$1 ~ /^vm[123]$/ { s += $6 } END { print s }')
		sleep 2
		c1=$(xl list | awk '$1 ~ /^vm[123]$/ { s += $6 } END { print s }')
		n=$((n + 1))
		awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b - a < 0.1) }' && break
	done
	say "domUs settled: $(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }') s of CPU over the last 2 s, after $((n * 2)) s"
	for k in 1 2 3; do
		echo "== vif-police, what each VM receives, round $k"
		police_ingress_checks
		police_pool_checks
	done
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	check_done
	exit
fi

if [ "$MODE" = packets ]; then
	packet_checks
	ovs_checks
	for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
	grep -v 'level=info\|level=debug' /tmp/agent.log
	check_done
	exit
fi

if [ "$MODE" = test ]; then # (scenario: the scenario alone, to look at it)
packet_checks
tcp_classes
ovs_checks
echo "== discovery, without --uplinks"
start_agent
wait_present 3 || bad "$(present) domUs present, want 3"
grep -q "uplink found uplink=dbavm-up0 capacity_bps=10000000000" /tmp/agent.log &&
	ok "uplink dbavm-up0 found on xenbr0 at its link speed (10 Gbit/s)" ||
	bad "uplink not found: $(grep uplink /tmp/agent.log | tail -2)"
expect "GET /host's uplinks" "$(api /host | jq -c '[.uplinks[] | [.name, .capacity_bps]]')" \
	'[["dbavm-up0",10000000000]]'
expect "the enforcer on xen" "$(api /host | jq -r .enforcer)" xen-credit
grep -q "vif counters from the BPF tap on each vif's tc ingress" /tmp/agent.log &&
	ok "counters from the BPF tap on each vif" || bad "not logged: counters from the BPF tap"
got=$(api /vms | jq -c '[.vms[] | select(.present) | [.id, .domid, .uuid, .vifs[0].id]] | sort')
want="[$(for i in 1 2 3; do
	d=$(domid "$i")
	printf '["vm%s",%s,"%s","vif%s.0"]' "$i" "$d" "$(uuid "$i")" "$d"
	[ "$i" = 3 ] || printf ,
done)]"
expect "names, domids, UUIDs and vifs as xl has them" "$got" "$want"
uuid2=$(uuid 2)
for key in vm2 "$(domid 2)" "$uuid2"; do
	expect "GET /vms/$key" "$(api "/vms/$key" | jq -r .id)" vm2
done

echo "== SLAs by name, UUID and domid; the rate nodes"
expect "PUT vm1's SLA by name (4 Mbit/s)" "$(put vm1 4000000)" 201
expect "PUT vm2's SLA by UUID (12 Mbit/s)" "$(put "$uuid2" 12000000)" 201
expect "PUT vm3's SLA by domid (8 Mbit/s)" "$(put "$(domid 3)" 8000000)" 201
sleep 0.5
expect "vm1's rate node: 4 Mbit/s as bytes per 20 ms" "$(rate_node 1)" 10000,20000
expect "vm2's rate node: 12 Mbit/s" "$(rate_node 2)" 30000,20000
expect "vm3's rate node: 8 Mbit/s" "$(rate_node 3)" 20000,20000
expect "DELETE vm3's SLA" "$(del_sla vm3)" 204
sleep 0.5
expect "vm3 without an SLA has no rate node (unlimited)" "$(rate_node 3)" none

echo "== TCP held to each limit"
iperf_tcp 1 8 &
p1=$!
iperf_tcp 2 8 &
p2=$!
wait "$p1" "$p2"
# TCP segments leave the domU in GSO packets, a set of headers for up to 64 KiB: its goodput
# is the rate netback counts.
held "vm1 TCP Mbit/s under its 4 Mbit/s limit" "$(cat /tmp/r1)" 4
held "vm2 TCP Mbit/s under its 12 Mbit/s limit" "$(cat /tmp/r2)" 12

echo "== UDP held to each limit, the agent's counters against iperf3's"
# Under emulation dom0 carries about 2,000 packets a second in all (measured: two domUs
# together passed 1.9 kpps of 1400-byte datagrams, and dom0 then dropped some after netback),
# so the UDP limits are 4 and 8 Mbit/s (360 and 710 frames a second), each domU offering
# twice its limit alone: what is over the limit waits and drops in the guest.
expect "PUT vm1 4 Mbit/s" "$(put vm1 4000000)" 200
expect "PUT vm2 8 Mbit/s" "$(put vm2 8000000)" 200
sleep 0.5
expect "the rate nodes" "$(rate_node 1) $(rate_node 2)" "10000,20000 20000,20000"
for v in 1:4:8M 2:8:16M; do
	i=${v%%:*}
	lim=$(echo "$v" | cut -d: -f2)
	c=$(counter dbavm_vm_passed_packets_total "vm$i")
	iperf_udp "$i" 8 "${v##*:}"
	sleep 0.3
	d=$(($(counter dbavm_vm_passed_packets_total "vm$i") - c))
	held "vm$i UDP Mbit/s (on the wire) under its $lim Mbit/s limit" "$(wire "$(cat "/tmp/r$i")")" "$lim"
	within "vm$i packets counted by the agent vs received by iperf3" "$d" "$(cat "/tmp/p$i")" 3
done
expect "vm1's SLA back to 4 Mbit/s" "$(put vm1 4000000)" 200
expect "vm2's SLA back to 12 Mbit/s" "$(put vm2 12000000)" 200

echo "== the unlimited domU not held back"
iperf_tcp 3 6
above "vm3 (no SLA) TCP Mbit/s: not held back (3x vm2's limit)" "$(cat /tmp/r3)" 36

echo "== xl destroy, xl create, xl reboot: followed within 2 periods of the vif's state change"
# Every change under the backend tree, stamped as it comes (no fork in the loop). Which state
# a vif went to is told by when: a vif comes up through states 1, 2 and 4 (Connected) and goes
# down through 5 and 6, then its directory is removed, so the change the agent follows is the
# last state change before its line when it comes up, the first after the command when it goes.
(xenstore-watch "$B" | while IFS= read -r p; do
	read -r up _ </proc/uptime
	echo "$up $p"
done >/tmp/watch.log) &
watcher=$!
sleep 0.5
followed() { # WHAT CHANGE_TIME AGENT_LINE: the agent's line came within 2 periods
	t_agent=$(agent_at "$3")
	if [ -z "$2" ] || [ -z "$t_agent" ]; then
		bad "$1: no time for the change ('$2') or the agent's line ('$3')"
		return
	fi
	dt=$(awk -v a="$2" -v b="$t_agent" 'BEGIN { printf "%.2f", b - a }')
	# What the agent's periods in between cost (its debug lines).
	awk -v a="$2" -v b="$t_agent" '$1 >= a && $1 <= b + 0.1 && /period after a rescan|loop late/ {
		$2 = ""; print "   " $0 }' /tmp/agent.log
	# The scan's own time is the store's: xenstored answers slowly while xl runs its
	# transactions under the emulator (224 ms once, where 4-20 ms is usual); the agent must
	# start following within 2 periods, and its scan is given its own measured time. The
	# period's line with that time comes at the period's end, after the agent's line (which
	# the scan writes), by up to the rest of the scan and the period: 0.5 s is looked at.
	scan_s=$(awk -v a="$2" -v b="$t_agent" '$1 >= a && $1 <= b + 0.5 && /period after a rescan/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^scan_us=/) { split($i, f, "="); if (f[2] > m) m = f[2] } }
		END { printf "%.3f", m / 1e6 }' /tmp/agent.log)
	if awk -v d="$dt" -v p="$PERIOD_MS" -v s="$scan_s" 'BEGIN { exit !(d >= -0.01 && d <= 2 * p / 1000 + s) }'; then
		ok "$1: the agent followed after $dt s (its scan $scan_s s of it)"
	else
		bad "$1: the agent followed after $dt s; the store and the agent meanwhile:"
		awk -v a="$2" -v b="$t_agent" '$1 >= a - 0.3 && $1 <= b + 0.1' /tmp/watch.log /tmp/agent.log |
			sort -n
		api /metrics | grep '^dbavm_loop_'
		ps -eo pid,ni,pri,pcpu,etime,args | head -30
	fi
}
# The time of the last state change of vif D.0 before time T, or of the first after it.
state_before() { awk -v p="$B/$1/0/state" -v t="$2" '$2 == p && $1 <= t { v = $1 } END { print v }' /tmp/watch.log; }
state_after() { awk -v p="$B/$1/0/state" -v t="$2" '$2 == p && $1 >= t { print $1; exit }' /tmp/watch.log; }
agent_at() { grep -F "$1" /tmp/agent.log | tail -1 | cut -d' ' -f1; }
d2=$(domid 2)
t0=$(now)
xl destroy vm2
sleep 0.5
t=$(state_after "$d2" "$t0")
followed "xl destroy vm2" "$t" "vm gone vm=vm2"
api /vms/vm2 | jq -e '.present == false' >/dev/null && ok "vm2 absent, its SLA kept" ||
	bad "vm2 after destroy: $(api /vms/vm2)"
create 2
d2=$(domid 2)
for _ in $(seq 50); do grep -q "vif attached vm=vm2 vif=vif$d2.0" /tmp/agent.log && break; sleep 0.1; done
t=$(state_before "$d2" "$(agent_at "vif attached vm=vm2 vif=vif$d2.0")")
followed "xl create vm2 (domid $d2)" "$t" "vif attached vm=vm2 vif=vif$d2.0"
sleep 0.3
expect "vm2's SLA back on its new vif: rate node" "$(rate_node 2)" 30000,20000
reachable 2 || unreachable 2
d1=$(domid 1)
iperf_tcp 1 12 &
p1=$!
sleep 4
xl reboot vm1
for _ in $(seq 600); do
	d=$(domid 1)
	[ -n "$d" ] && [ "$d" != "$d1" ] && grep -q "vif attached vm=vm1 vif=vif$d.0" /tmp/agent.log && break
	sleep 0.1
done
d=$(domid 1)
t=$(state_before "$d" "$(agent_at "vif attached vm=vm1 vif=vif$d.0")")
followed "xl reboot vm1 (domid $d1 -> $d)" "$t" "vif attached vm=vm1 vif=vif$d.0"
grep -q "vif released vm=vm1 vif=vif$d1.0" /tmp/agent.log && ok "logged: vm1's old vif released" ||
	bad "not logged: vm1's old vif released"
sleep 0.3
expect "vm1's SLA on its new vif: rate node" "$(rate_node 1)" 10000,20000
pkill -f "iperf3 -c 198.18.0.11 " 2>/dev/null
wait "$p1"
# Its counters started again from 0 with the new vif: no period above the limit (+10 %).
most=$(api /vms/vm1/stats | jq '[.periods[].passed.bps] | max')
below "vm1's highest rate in its history around the reboot, Mbit/s" \
	"$(awk -v b="$most" 'BEGIN { printf "%.2f", b / 1e6 }')" 4.4
kill "$watcher" 2>/dev/null
reachable 1 || unreachable 1

echo "== the agent restarted mid-run picks everything up again"
iperf_tcp 2 10 &
p2=$!
sleep 2
stop_agent && ok "exit status 0 on SIGTERM" || bad "exit status $? on SIGTERM"
expect "rate nodes gone while the agent is away" "$(rate_node 1) $(rate_node 2)" "none none"
start_agent
wait_present 3 || bad "$(present) present after the restart"
sleep 0.5
expect "rate nodes back" "$(rate_node 1) $(rate_node 2) $(rate_node 3)" \
	"10000,20000 30000,20000 none"
expect "SLAs back" "$(api /vms | jq -c '[.vms[] | select(.sla_set) | [.id, .sla.bandwidth.max_bps]] | sort')" \
	'[["vm1",4000000],["vm2",12000000]]'
wait "$p2"
stop_agent

fi

echo "== the paper's scenario 1 in TCP, scaled by 1/100: uplink 10 Mbit/s"
# The agent is told of a 10 Mbit/s uplink and a host budget of 9.5 kpps; SLAs (min = max): vm1
# 1.5 Mbit/s and 1 kpps, vm2 7 Mbit/s and 3 kpps, vm3 1.5 Mbit/s and 3 kpps; each VM sends as
# much as TCP lets it. TCP, not the paper's UDP: the three domUs share one emulated CPU, and a
# UDP sender's every packet costs it (three domUs offering 10 Mbit/s of datagrams kept that
# CPU busy, and the one with 7 Mbit/s of SLA got 5.3-6.2 for want of it), where TCP hands the
# guest's kernel 64 KiB at a time. Scaled by 1/100, not 1/20: what the emulated machine can
# carry depends on the host's free CPU. At 1/20 (50 Mbit/s), with the host's other core busy
# (a shell loop; a CI neighbour did the same), three unlimited domUs moved 29 Mbit/s in all,
# and held to their SLAs they got 5.2-5.4 of 7.5 and 16.6 of 35; 10 Mbit/s leaves that
# loaded machine three times what it needs. The wire itself runs at 11 Mbit/s: with the
# guarantees summing to exactly its rate its queue never drains, and TCP, backing off at the
# drops, fell below its share (80-94 %) whatever held it; an operator leaves the same margin
# (Placement's `reserved`). Results over 10 s of steady state (-O 2: slow start left out).
sla() { case $1 in 2) echo 7 ;; *) echo 1.5 ;; esac; }
tc qdisc add dev dbavm-up0 root handle 1: htb default 1
tc class add dev dbavm-up0 parent 1: classid 1:1 htb rate 11mbit ceil 11mbit burst 16k cburst 16k
printf '%-10s %-4s %10s %10s %12s %8s\n' enforcer vm "SLA Mbit/s" "got Mbit/s" "agent Mbit/s" \
	"SLA met" >/tmp/table
for enf in none xen-credit; do
	start_agent --enforcer "$enf" --uplinks dbavm-up0:10000000 --host-pps 9500
	wait_present 3
	expect "--uplinks overrides the link speed ($enf)" \
		"$(api /host | jq -c '[.uplinks[] | [.name, .capacity_bps]]')" '[["dbavm-up0",10000000]]'
	put vm1 1500000 1000 >/dev/null
	put vm2 7000000 3000 >/dev/null
	put vm3 1500000 3000 >/dev/null
	sleep 1
	for i in 1 2 3; do
		sink timeout 40 iperf3 -c "198.18.0.1$i" -R -O 2 -t 10 -J >"/tmp/s$i" 2>/dev/null &
		eval "s$i=\$!"
	done
	sleep 2 # slow start over: what the agent counts from here, as iperf3 does
	for i in 1 2 3; do counter dbavm_vm_passed_bytes_total "vm$i" >"/tmp/b0.$i"; done
	t0=$(now)
	sleep 4
	xentop -b -d 2 -i 2 | sed -n '/NAME/,$p' | tail -5 # each domain's CPU, over 2 s mid-run
	# shellcheck disable=SC2154 # set by the eval
	wait "$s1" "$s2" "$s3"
	for i in 1 2 3; do counter dbavm_vm_passed_bytes_total "vm$i" >"/tmp/b1.$i"; done
	t1=$(now)
	for i in 1 2 3; do
		got=$(jq '.end.sum_received.bits_per_second / 1e6' "/tmp/s$i" 2>/dev/null || echo 0)
		bytes=$(($(cat "/tmp/b1.$i") - $(cat "/tmp/b0.$i")))
		met=$(awk -v g="$got" -v s="$(sla "$i")" 'BEGIN { print (g >= 0.95 * s && g <= 1.05 * s) ? "yes" : "NO" }')
		printf '%-10s vm%-2s %10s %10.2f %12.2f %8s\n' "$enf" "$i" "$(sla "$i")" "$got" \
			"$(awk -v b="$bytes" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
			'BEGIN { print b * 8 / s / 1e6 }')" "$met" >>/tmp/table
		if [ "$enf" = xen-credit ] && [ "$MODE" = scenario ]; then
			within "scenario 1, xen-credit: vm$i TCP Mbit/s" "$got" "$(sla "$i")" 5
		elif [ "$enf" = xen-credit ]; then
			held "scenario 1, xen-credit: vm$i TCP Mbit/s" "$got" "$(sla "$i")"
		fi
		[ "$got" != 0 ] || { echo "iperf3 for vm$i said:"; head -c 600 "/tmp/s$i"; echo; }
	done
	stop_agent
done
cat /tmp/table

echo "== SIGTERM leaves no rate node"
start_agent
wait_present 3
sleep 0.5
n=$(xenstore-ls "$B" 2>/dev/null | grep -c ' rate = ')
[ "$n" -ge 2 ] && ok "$n rate nodes written" || bad "$n rate nodes written, want 2"
stop_agent && ok "exit status 0" || bad "exit status $?"
n=$(xenstore-ls "$B" 2>/dev/null | grep -c ' rate = ')
expect "rate nodes left after SIGTERM" "$n" 0

if [ "$MODE" = test ]; then
echo "== a dom0 whose kernel has no clsact: each vif counted from its netdev, and said"
# sch_ingress (clsact's module) removed, and modprobe told not to load it again: the BPF tap
# cannot attach (the kernel's request for the qdisc fails). Each VM in turn sends 3 Mbit/s of
# UDP for 8 s (some 2,100 datagrams, where iperf3's own TCP control takes a few dozen frames),
# checked against what iperf3 numbered: what the VM sent, received or lost in dom0 after the
# count (three at once, the domUs' one CPU let vm3 send half of it, and dom0 lost 5 % of that).
echo "install sch_ingress /bin/false" >/etc/modprobe.d/dbavm-no-clsact.conf
rmmod sch_ingress 2>/dev/null
if tc qdisc add dev dbavm-up0 clsact 2>/dev/null; then
	bad "clsact still available: $(tc qdisc show | grep -c clsact) clsact qdiscs, lsmod: $(lsmod | grep sch_ingress)"
	tc qdisc del dev dbavm-up0 clsact
else
	ok "clsact unavailable (sch_ingress removed, not loaded again)"
fi
start_agent
wait_present 3 || bad "$(present) domUs present, want 3"
# Nothing holds them back (scenario 1's SLAs are in the store): a VM held by its credit keeps
# datagrams queued past iperf3's end, counted then but not numbered. vm1 is limited above it.
expect "vm1 at 4 Mbit/s, vm2 and vm3 without an SLA" "$(put vm1 4000000) $(del_sla vm2) $(del_sla vm3)" \
	"200 204 204"
sleep 1
for i in 1 2 3; do
	grep -q "vif counted from netdev vm=vm$i vif=vif$(domid "$i").0 why=\"bpf: " /tmp/agent.log &&
		ok "logged: vm$i counted from its netdev, and why" ||
		bad "not logged: vm$i counted from its netdev ($(grep "vm=vm$i" /tmp/agent.log | grep -i count | tail -2))"
done
notes=$(curl -s -m 5 -H 'Authorization: Bearer s3cret0123456789' "$API/readyz")
expect "GET /readyz: ready, noting the three vifs counted from their netdevs" \
	"$(echo "$notes" | jq -c '[.status, ([.notes[] | select(test("^vm vm[123] vif vif[0-9]+[.]0 egress counted from netdev: bpf: "))] | length)]')" \
	'["ready",3]'
expect "each vif's counters: counted, by the netdevs" \
	"$(api /vms | jq -c '[.vms[] | .vifs[].counters | [.counted, .source]] | unique')" '[[true,"netdev"]]'
expect "dbavm_vif_counted 1 with source netdev for the three" \
	"$(api /metrics | grep -c '^dbavm_vif_counted{vm="vm[123]",vif="vif[0-9]*[.]0",direction="egress",source="netdev"} 1$')" 3
for i in 1 2 3; do
	c=$(counter dbavm_vm_passed_packets_total "vm$i")
	iperf_udp "$i" 8 3M
	sleep 0.3
	d=$(($(counter dbavm_vm_passed_packets_total "vm$i") - c))
	sent=$(jq '.end.sum_received.packets' "/tmp/j$i" 2>/dev/null || echo 0)
	within "no clsact: vm$i packets counted by the agent vs sent as iperf3 numbered them (received $(cat "/tmp/p$i"))" \
		"$d" "$sent" 3
done
stop_agent && ok "exit status 0" || bad "exit status $?"
rm -f /etc/modprobe.d/dbavm-no-clsact.conf
modprobe sch_ingress || bad "sch_ingress not loaded again"
fi

for i in 1 2 3; do xl destroy "vm$i" 2>/dev/null; done
echo "the agent's warnings and errors:"
grep -v 'level=info\|level=debug' /tmp/agent.log
echo "the five longest tap attachments, which hold the loop (dom0's uptime, VM, vif, us):"
grep 'hook attached' /tmp/agent.log | awk '{ print "  " $1, $5, $6, $NF }' | sort -t= -k4 -n | tail -5
if [ "$failed" -gt 0 ]; then
	echo "agent log (last 40 lines):"
	tail -40 /tmp/agent.log
fi
check_done
