#!/bin/sh
# bench_xen: the agent's own cost in a real Xen 4.17 dom0 (tests/xen/, under QEMU, dom0's one
# vCPU pinned to CPU 0, three idle PV domUs on CPU 1): its CPU at a 100 ms period over 30 s,
# in % of dom0's vCPU, counting with the vif netdevs (the default) and with libxenstat (how
# it counted before), and what an unlimited domU's TCP gets with no agent and beside each.
# Emulation inflates every figure; compare them with each other, in the same run.
# Target (issue 13): <= 5 % of the dom0 vCPU.
#   bench_xen.sh DBAVMD
set -eu
"$(cd "$(dirname "$0")/.." && pwd)/xen/test_xen_qemu.sh" "$1" bench | grep -a '^BENCH\|^FAIL\|QEMU ended'
