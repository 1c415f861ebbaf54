#!/bin/sh
# The Debian 12 root the Xen test's images are made from: Xen 4.17, Debian's kernel, the dom0
# tools, Open vSwitch (XCP-ng's and XenServer's bridge) and the agent's libraries (tests/testbed/debian-root.sh: made once, about 3 minutes,
# and cached). Prints the root's path. Run as root.
#   root.sh
set -eu
PACKAGES="linux-image-amd64 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
iproute2 iperf3 busybox-static kmod udev procps curl jq openvswitch-switch
libjansson4 libmicrohttpd12 libbpf1 libmnl0 libssl3"
exec "$(dirname "$0")/../testbed/debian-root.sh" xen-root "$PACKAGES"
