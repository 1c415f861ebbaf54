#!/bin/sh
# Installs every package dbavm needs to build, run and test, from Debian 12's archive.
# Idempotent: installs only what is missing, and touches nothing when all is there.
# Run as root.
set -eu

# libxdp1 libcap-ng0 libnuma1 libunbound8: what Open vSwitch's database tools link, which the
# tests unpack from its packages without installing them (tests/support/ovs-tools.sh).
PACKAGES="
  build-essential cmake pkg-config
  libjansson-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
  libbpf-dev libmnl-dev libxen-dev libncurses-dev tmux gnuplot-nox xenstore-utils clang llvm bpftool iproute2 iperf3
  libclang-rt-14-dev libcmocka-dev valgrind jq clang-format prometheus curl python3 nginx-light apache2-utils faketime
  debootstrap qemu-system-x86 cpio
  libxdp1 libcap-ng0 libnuma1 libunbound8
  python3-keystone python3-placement
  debhelper dpkg-dev lintian systemd-container
"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

# Node.js runs the OpenAPI checks. Any node >= 18.17 will do: a machine that has one from
# elsewhere keeps it, others get Debian's.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages such as prometheus start a service when installed; the tests start their own, on
# loopback. Forbid service starts for this install only (policy-rc.d, honoured by
# invoke-rc.d and deb-systemd-invoke), unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
