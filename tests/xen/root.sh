#!/bin/sh
# The Debian 12 root the Xen test's images are made from: Xen 4.17, Debian's kernel, the dom0
# tools and the agent's libraries, by debootstrap through the mirror apt already uses here.
# Made once (about 3 minutes) and kept outside the clone, under $DBAVM_CACHE (default
# /var/cache/dbavm), in a directory named after the package list: a new list makes a new root.
# Prints the root's path. Run as root.
#   root.sh
set -eu
CACHE=${DBAVM_CACHE:-/var/cache/dbavm}
PACKAGES="linux-image-amd64 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
iproute2 iperf3 busybox-static kmod udev procps curl jq
libjansson4 libmicrohttpd12 libbpf1 libmnl0 libssl3"
key=$(echo "$PACKAGES" | sha256sum | cut -c1-12)
root="$CACHE/xen-root-$key"
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

for tool in debootstrap; do
	command -v "$tool" >/dev/null || {
		echo "root.sh: $tool is missing (packaging/install-deps.sh installs it)" >&2
		exit 1
	}
done
# apt's own mirror for bookworm: deb822 sources first, then the one-line format.
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm( |$)/ { print u; exit }')
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || {
	echo "root.sh: no bookworm mirror in apt's sources" >&2
	exit 1
}
mkdir -p "$CACHE"
tmp="$root.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM
echo "root.sh: debootstrap bookworm from $mirror into $root (once; a few minutes)" >&2
debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ,)" bookworm "$tmp" \
	"$mirror" >"$CACHE/debootstrap-$key.log" 2>&1 || {
	echo "root.sh: debootstrap failed; its log: $CACHE/debootstrap-$key.log" >&2
	tail -5 "$CACHE/debootstrap-$key.log" >&2
	exit 1
}
touch "$tmp/.complete"
mv "$tmp" "$root"
trap - EXIT
echo "$root"
