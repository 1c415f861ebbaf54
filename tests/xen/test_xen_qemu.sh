#!/bin/sh
# The agent in a real Xen 4.17 dom0, under QEMU (TCG: no KVM needed, none usable here), with
# no host network (-nic none): all traffic stays inside the emulated machine.
#   root.sh     a Debian 12 root with Xen, made once by debootstrap and cached (/var/cache/dbavm)
#   images.sh   the hypervisor, dom0's kernel and an initramfs with this tree's dbavmd
#   dom0-init   dom0's init: the Xen daemons, then dom0-test.sh (what is checked: see there)
# Pinned: dom0's one vCPU to CPU 0 (dom0_vcpus_pin), the domUs to CPU 1. With the vCPUs left
# to float, 2 of 5 early runs saw dom0 processes die of corrupted heaps (xl twice, dbavmd once,
# inside libxenstat's regcomp) while an AddressSanitizer build of the agent reported nothing;
# pinned, it never recurred. The emulator, most likely; pinning also keeps the domUs' load off
# dom0's CPU, so that what the agent costs is measured alone.
# Fails (does not skip) with a message on a machine that lacks what it needs.
#   test_xen_qemu.sh DBAVMD [test|bench|scenario|packets|scenario2|ingress|repeat|police|demoin [PGSINK]]
# PGSINK: the sink's measure of pktgen's frames (tests/xen/pgsink.c), by default beside DBAVMD.
set -eu
DBAVMD=$1
MODE=${2:-test}
PGSINK=${3:-$(dirname "$DBAVMD")/xen_pgsink}
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${XEN_QEMU_TIMEOUT:-900}

for tool in qemu-system-x86_64 debootstrap cpio python3 zcat; do
	command -v "$tool" >/dev/null || {
		echo "FAIL the Xen test needs $tool (packaging/install-deps.sh installs it)"
		exit 1
	}
done
[ "$(id -u)" = 0 ] || {
	echo "FAIL the Xen test needs root (debootstrap, chroot)"
	exit 1
}
root=$("$HERE/root.sh") || {
	echo "FAIL no Debian root for the Xen images"
	exit 1
}
out=$(mktemp -d /tmp/dbavm-xenqemu-XXXXXX)
qemu=""
cleanup() {
	[ -z "$qemu" ] || kill "$qemu" 2>/dev/null || true
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

t0=$(date +%s)
"$HERE/images.sh" "$root" "$out" "$DBAVMD" "$PGSINK"
echo "images made in $(($(date +%s) - t0)) s; booting Xen under QEMU (at most $TIMEOUT s)"
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max,-smap -smp 2 -m 3072 \
	-machine q35 -display none -nic none -no-reboot -monitor none -serial "file:$out/console" \
	-kernel "$out/xen.elf" \
	-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 dom0_vcpus_pin noreboot" \
	-initrd "$out/vmlinuz console=hvc0 loglevel=4 dbavm_mode=$MODE,$out/dom0.cpio" &
qemu=$!
rc=0
wait "$qemu" || rc=$?
qemu=""
echo "QEMU ended after $(($(date +%s) - t0)) s, status $rc"
tr -d '\r' <"$out/console" | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g' >"$out/console.txt"
# What the run said: its checks, tables and figures; the whole console when it went wrong.
sed -n '/^dom0-init: up/,$p' "$out/console.txt" | grep -v '^(XEN)' | grep -av '^\[ *[0-9.]*\] ' || true
end=$(sed -n 's/^DBAVM-XEN-END rc=\([0-9]*\).*/\1/p' "$out/console.txt")
if [ "$rc" != 0 ] || [ "${end:-x}" != 0 ]; then
	echo "FAIL the run in dom0 did not end well (QEMU status $rc, dom0-test status ${end:-none});" \
		"the console's last 60 lines:"
	tail -60 "$out/console.txt"
	exit 1
fi
