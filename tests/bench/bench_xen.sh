#!/bin/sh
# bench_xen: the agent's own cost in a real Xen 4.17 dom0 (tests/xen/, under QEMU, dom0's one
# vCPU pinned to CPU 0, three idle PV domUs on CPU 1): its CPU at a 100 ms period over 30 s,
# in % of dom0's vCPU, counting with the BPF tap on each vif (the default), the vif netdevs and
# libxenstat, and what an unlimited domU's TCP gets with no agent and beside each.
# Emulation inflates every figure; compare them with each other, in the same run.
# Then the paper's scenario 1 in TCP (scaled by 1/100), each VM's goodput against its SLA
# under none and xen-credit: the target is within 5 % of it under xen-credit, on a quiet host
# (the test, xen_qemu, checks only that each is held and not stalled).
# Target (issue 13): <= 5 % of the dom0 vCPU.
#   bench_xen.sh DBAVMD
set -eu
xen="$(cd "$(dirname "$0")/.." && pwd)/xen/test_xen_qemu.sh"
"$xen" "$1" bench | grep -a '^BENCH\|^FAIL\|QEMU ended'
"$xen" "$1" scenario | grep -a '^ok\|^FAIL\|^enforcer\|^none\|^xen-credit\|QEMU ended'

