#!/bin/sh
# A Debian root made by debootstrap (minbase) through the mirror apt already uses here, of
# Debian 12 (bookworm) unless SUITE names another release the mirror has (trixie: Debian 13;
# this machine's own apt sources are not touched), with the packages given, for the tests that
# boot, build or install into one (tests/xen/root.sh, tests/package/test_package.sh). Made once
# (a few minutes) and kept outside the clone, under $DBAVM_CACHE (default /var/cache/dbavm),
# named NAME-<hash of the package list and release>: a new list makes a new root. Prints the
# root's path. Run as root.
#   debian-root.sh NAME "PACKAGE ..." [SUITE]
set -eu
NAME=$1
PACKAGES=$2
SUITE=${3:-bookworm}
CACHE=${DBAVM_CACHE:-/var/cache/dbavm}
# bookworm's roots keep the names they had before other releases were made
if [ "$SUITE" = bookworm ]; then
	key=$(echo "$PACKAGES" | sha256sum | cut -c1-12)
else
	key=$(printf '%s\n%s\n' "$PACKAGES" "$SUITE" | sha256sum | cut -c1-12)
fi
root="$CACHE/$NAME-$key"
if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi

command -v debootstrap >/dev/null || {
	echo "debian-root.sh: debootstrap is missing (packaging/install-deps.sh installs it)" >&2
	exit 1
}
# apt's own mirror for bookworm (it serves the other releases too): deb822 sources first, then
# the one-line format.
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm( |$)/ { print u; exit }')
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || {
	echo "debian-root.sh: no bookworm mirror in apt's sources" >&2
	exit 1
}
mkdir -p "$CACHE"
tmp="$root.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM
echo "debian-root.sh: debootstrap $SUITE from $mirror into $root (once; a few minutes)" >&2
debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ,)" "$SUITE" "$tmp" \
	"$mirror" >"$CACHE/debootstrap-$NAME-$key.log" 2>&1 || {
	echo "debian-root.sh: debootstrap failed; its log: $CACHE/debootstrap-$NAME-$key.log" >&2
	tail -5 "$CACHE/debootstrap-$NAME-$key.log" >&2
	exit 1
}
touch "$tmp/.complete"
mv "$tmp" "$root"
trap - EXIT
echo "$root"
