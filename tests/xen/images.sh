#!/bin/sh
# The images the Xen test boots, made from the cached root (root.sh) and this tree:
#   OUT/xen.elf    the hypervisor, gunzipped: QEMU's -kernel loads it by multiboot only so
#   OUT/vmlinuz    dom0's kernel
#   OUT/dom0.cpio  dom0's root as an initramfs: the Debian root trimmed, with the modules dom0
#                  needs, this tree's dbavmd, the checks, and tests/xen/dom0-init as /init;
#                  the domUs' kernel (uncompressed: libxc unpacks an xz kernel slowly under
#                  emulation, 28 s a domain against 9) and initramfs (busybox, iperf3,
#                  xen-netfront, pktgen, tests/xen/domu-init, domu-cmd and domu-pg) in
#                  /dbavm/domu
#   images.sh ROOT OUT DBAVMD PGSINK
set -eu
ROOT=$1
OUT=$2
DBAVMD=$3
PGSINK=$4
HERE=$(cd "$(dirname "$0")" && pwd)
K=$(ls "$ROOT/usr/lib/modules")
mkdir -p "$OUT"
work=$(mktemp -d "$OUT/work-XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT PIPE TERM

zcat "$ROOT/boot/xen-4.17-amd64.gz" >"$OUT/xen.elf"
cp "$ROOT/boot/vmlinuz-$K" "$OUT/vmlinuz"

# ---- a domU: busybox, iperf3 and its libraries, xen-netfront
D=$work/domu
mkdir -p "$D/bin" "$D/proc" "$D/sys" "$D/dev" "$D/tmp" "$D/etc" "$D/lib/x86_64-linux-gnu" \
	"$D/lib64" "$D/lib/modules"
cp "$ROOT/usr/bin/busybox" "$D/bin/busybox"
for a in sh mount ip insmod sleep cat echo poweroff sed grep nc kill; do ln -s busybox "$D/bin/$a"; done
cp "$ROOT/usr/bin/iperf3" "$D/bin/"
for l in libiperf.so.0 libc.so.6 libcrypto.so.3 libsctp.so.1 libm.so.6; do
	cp -L "$ROOT/usr/lib/x86_64-linux-gnu/$l" "$D/lib/x86_64-linux-gnu/"
done
cp -L "$ROOT/usr/lib64/ld-linux-x86-64.so.2" "$D/lib64/"
cp "$ROOT/usr/lib/modules/$K/kernel/drivers/net/xen-netfront.ko" \
	"$ROOT/usr/lib/modules/$K/kernel/net/core/pktgen.ko" "$D/lib/modules/"
cp "$HERE/domu-init" "$D/init"
cp "$HERE/domu-cmd" "$HERE/domu-pg" "$D/bin/"
chmod +x "$D/init" "$D/bin/domu-cmd" "$D/bin/domu-pg"
(cd "$D" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/domu.cpio.gz"

# ---- dom0: the root without what a test does not use
O=$work/dom0
mkdir -p "$O"
tar -C "$ROOT" --exclude=./usr/lib/modules --exclude=./usr/share/doc --exclude=./usr/share/man \
	--exclude=./usr/share/locale --exclude=./var/cache --exclude=./var/lib/apt --exclude=./boot \
	--exclude=./usr/share/info --exclude=./usr/lib/firmware --exclude=./.complete -cf - . |
	tar -C "$O" -xf -
mkdir -p "$O/usr/lib/modules/$K"
(
	cd "$ROOT/usr/lib/modules/$K"
	cp modules.order modules.builtin* "$O/usr/lib/modules/$K/"
	for m in drivers/net/xen-netback drivers/net/veth.ko net/llc net/802 net/bridge \
		net/sched drivers/xen net/openvswitch net/nsh net/netfilter net/ipv4/netfilter \
		net/ipv6/netfilter lib/libcrc32c.ko crypto/crc32c_generic.ko; do
		mkdir -p "$O/usr/lib/modules/$K/kernel/$(dirname "$m")"
		cp -r "kernel/$m" "$O/usr/lib/modules/$K/kernel/$(dirname "$m")/"
	done
)
chroot "$O" depmod "$K"
mkdir -p "$O/dbavm/domu"
# The domU's kernel: the ELF inside vmlinuz (an xz stream after the boot code).
python3 -c '
import lzma, sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\xfd7zXZ\x00")
open(sys.argv[2], "wb").write(lzma.LZMADecompressor().decompress(d[i:]))' \
	"$OUT/vmlinuz" "$O/dbavm/domu/vmlinux"
cp "$work/domu.cpio.gz" "$O/dbavm/domu/initrd.gz"
cp "$DBAVMD" "$O/usr/sbin/dbavmd"
cp "$PGSINK" "$O/usr/bin/pgsink"
cp "$HERE/dom0-test.sh" "$HERE/../testbed/check.sh" "$O/dbavm/"
cp "$HERE/dom0-init" "$O/init"
chmod +x "$O/init" "$O/dbavm/dom0-test.sh"
(cd "$O" && find . | cpio -o -H newc --quiet) >"$OUT/dom0.cpio"
