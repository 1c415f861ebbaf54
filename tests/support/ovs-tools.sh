#!/bin/sh
# Open vSwitch's database server and tools (ovsdb-tool, ovsdb-server, ovs-vsctl), from Debian's
# packages of this machine's release, unpacked, never installed: no service of theirs is set
# up or started on the machine, and no datapath is made. Kept in $DBAVM_CACHE (default
# /var/cache/dbavm)/ovs-<version>, made once. Prints that directory.
#   ovs-tools.sh
set -eu
CACHE=${DBAVM_CACHE:-/var/cache/dbavm}
ver=$(apt-cache policy openvswitch-common 2>/dev/null | sed -n 's/^ *Candidate: //p')
case $ver in
"" | "(none)")
	echo "ovs-tools: apt knows no openvswitch-common (apt-get update?)" >&2
	exit 1
	;;
esac
root=$CACHE/ovs-$ver
if [ ! -x "$root/usr/sbin/ovsdb-server" ]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/ovs-new-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q "openvswitch-common=$ver" "openvswitch-switch=$ver" \
		>/dev/null 2>&1) || {
		echo "ovs-tools: apt-get download openvswitch-common=$ver openvswitch-switch=$ver failed" >&2
		exit 1
	}
	for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
	rm -rf "$root"
	mv "$tmp/root" "$root"
fi
echo "$root"
