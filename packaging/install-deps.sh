#!/bin/sh
# Installs the Debian packages dbavm needs, from the release the machine runs (Debian 12
# "bookworm" or 13 "trixie": the names below are in both). Idempotent: installs only what is
# missing, and touches nothing when all is there. Run as root.
#   install-deps.sh        what the tests need (the README's test command): everything
#   install-deps.sh demo   what the demo needs: the agent's build and the testbed's traffic
set -eu
WHAT=${1:-test}

# Building the agent, dbavmctl and the testbed, and the BPF programs (clang, bpftool).
BUILD="
  build-essential cmake pkg-config
  libjansson-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
  libbpf-dev libmnl-dev libxen-dev libncurses-dev clang llvm bpftool
"
# The demo's traffic, its tables and figures.
DEMO="iproute2 iperf3 jq curl gnuplot-nox python3"
# The tests: unit tests, sanitizers and fuzzing (clang's runtime: CLANG_RT below), the real
# clients and servers they drive, the Xen test's roots and QEMU, the package's build and checks.
# libxdp1 libcap-ng0 libnuma1 libunbound8: what Open vSwitch's database tools link, which the
# tests unpack from its packages without installing them (tests/support/ovs-tools.sh).
TEST="
  libcmocka-dev valgrind clang-format tmux xenstore-utils prometheus nginx-light
  apache2-utils faketime debootstrap qemu-system-x86 cpio
  libxdp1 libcap-ng0 libnuma1 libunbound8
  python3-keystone python3-placement neutron-common
  debhelper dpkg-dev lintian systemd-container
"
case $WHAT in
demo) PACKAGES="$BUILD $DEMO" ;;
test) PACKAGES="$BUILD $DEMO $TEST" ;;
*)
	echo "usage: install-deps.sh [demo|test]" >&2
	exit 2
	;;
esac

missing_of() { # PACKAGE...: those not installed
	for p in "$@"; do
		case $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) in
		"install ok installed") ;;
		*) printf ' %s' "$p" ;;
		esac
	done
}
# shellcheck disable=SC2086 # one word per package
missing=$(missing_of $PACKAGES)

# clang's runtime (sanitizers, libFuzzer) is named after clang's major version, which each
# release has its own of (14 in bookworm, 19 in trixie): the one that goes with the clang that
# is installed, or with the one apt would install.
clang_major() {
	v=$(clang -dumpversion 2>/dev/null ||
		apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' |
		head -1)
	echo "${v%%.*}"
}
if [ "$WHAT" = test ]; then
	major=$(clang_major)
	if [ -n "$major" ]; then
		missing="$missing$(missing_of "libclang-rt-$major-dev")"
	else
		need_clang_rt=yes # known once apt's lists are read (below)
	fi
fi

# Node.js runs the OpenAPI checks. Any node >= 18.17 will do: a machine that has one from
# elsewhere keeps it, others get Debian's.
if [ "$WHAT" = test ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi

if [ -z "$missing" ] && [ -z "${need_clang_rt:-}" ]; then
	echo "install-deps: all packages present ($WHAT)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing; run as root to install them" >&2
	exit 1
fi
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
if [ -n "${need_clang_rt:-}" ]; then
	major=$(clang_major)
	[ -n "$major" ] || {
		echo "install-deps: this release's clang has no clang-N package to follow" >&2
		exit 1
	}
	missing="$missing libclang-rt-$major-dev"
fi
echo "install-deps: installing:$missing"
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
