#!/bin/sh
# The README's demo command on a fresh Debian 13 ("trixie"), as a new user meets it: a trixie
# root made by debootstrap from the registry (tests/testbed/debian-root.sh, cached; this
# machine's own apt sources are not touched), copied afresh for each run, the clone's files in
# it. In it, as root (chroot, with /proc, /sys and /dev of the host: the demo's namespaces,
# veths and BPF programs are the host kernel's): packaging/install-deps.sh demo, then
# tests/testbed/demo.sh, which builds with trixie's gcc 14, clang 19 and libbpf 1.5 against its
# libmicrohttpd 1.0 and Xen 4.20 libraries and runs all four parts; then the whole tree built
# again with -Werror (zero warnings from gcc 14). The .deb files apt fetches are kept between
# runs in $DBAVM_CACHE/apt-trixie. Everything made is removed on exit, failure or signal.
#   test_debian13.sh SOURCE_DIR
set -eu
SRC=$(cd "$1" && pwd)
CACHE=${DBAVM_CACHE:-/var/cache/dbavm}
work=$(mktemp -d /tmp/dbavm-trixie-XXXXXX)
R=$work/root
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# Nothing under the copy may stay mounted before it is removed: a bind of /dev or /sys left
# there would have rm -rf walk the host's. Unmounted deepest first; the copy is kept (and
# said) if any mount would not go.
mounted() { awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r; }
cleanup() {
	# ip netns, run inside, stacks a mount of its own on /run/netns: a few rounds
	for _ in 1 2 3 4 5; do
		[ -n "$(mounted)" ] || break
		for m in $(mounted); do umount "$m" 2>/dev/null || true; done
	done
	if [ -n "$(mounted)" ]; then
		echo "FAIL still mounted under $R, left in place: $(mounted | xargs)"
		return
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

base=$("$SRC/tests/testbed/debian-root.sh" trixie-dev "ca-certificates" trixie) || {
	echo "FAIL no Debian 13 root (debootstrap trixie)"
	exit 1
}
cp -a "$base" "$R"
grep -q '^VERSION_ID="13"' "$R/etc/os-release" && ok "a fresh Debian 13 root: $(. "$R/etc/os-release" && echo "$PRETTY_NAME")" ||
	bad "the root is not Debian 13: $(cat "$R/etc/os-release")"
mkdir -p "$R/src" "$CACHE/apt-trixie/partial"
(cd "$SRC" && git ls-files -z | xargs -0 tar -cf - --) | tar -xf - -C "$R/src"
# / a mount point inside (ip netns needs one), the host's kernel interfaces, its own /run
mount --bind "$R" "$R"
for m in proc sys dev; do mount --bind "/$m" "$R/$m"; done
mount -t tmpfs tmpfs "$R/run"
mount --bind "$CACHE/apt-trixie" "$R/var/cache/apt/archives"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
inside() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root sh -c "cd /src && $*"; }

echo "== packaging/install-deps.sh demo"
t0=$(date +%s)
if inside ./packaging/install-deps.sh demo >"$work/deps.log" 2>&1; then
	ok "the demo's packages installed ($(($(date +%s) - t0)) s): $(grep -o 'installing:.*' "$work/deps.log" | awk '{ print NF - 1 }') packages"
else
	bad "install-deps.sh demo failed: $(tail -5 "$work/deps.log")"
fi
inside ./packaging/install-deps.sh demo 2>&1 | grep -q 'all packages present (demo)' &&
	ok "install-deps.sh demo again: nothing to do" || bad "install-deps.sh demo again did something"
echo "   $(inside 'gcc --version | head -1'); $(inside 'clang --version | head -1');" \
	"libmicrohttpd $(inside 'pkg-config --modversion libmicrohttpd'), libbpf $(inside 'pkg-config --modversion libbpf')"

echo "== tests/testbed/demo.sh"
t0=$(date +%s)
if timeout 900 chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	sh -c 'cd /src && ./tests/testbed/demo.sh' >"$work/demo.log" 2>&1; then
	ok "the demo ran to its end ($(($(date +%s) - t0)) s)"
else
	bad "the demo failed: $(tail -15 "$work/demo.log")"
fi
# netfront's rows: every SLA met in the real scenarios 1-3, and the flooded VM held in 4
for s in "Scenario 1 (real)" "Scenario 2 (real)" "Scenario 3 (real)"; do
	rows=$(awk -v s="$s" 'index($0, s) == 1 { on = 1; next } on && /^$/ { exit }
		on && $1 == "netfront" { print $NF }' "$work/demo.log" | xargs)
	[ "$rows" = "yes yes yes" ] && ok "$s: netfront met every SLA" ||
		bad "$s: netfront's SLA met column '$rows', want yes yes yes"
done
rows=$(awk 'index($0, "Scenario 4 (real)") == 1 { on = 1; next } on && /^$/ { exit }
	on && $1 == "netfront" { print $NF }' "$work/demo.log" | xargs)
[ "$rows" = "yes yes" ] && ok "Scenario 4 (real): netfront held what both VMs receive" ||
	bad "Scenario 4 (real): netfront's held column '$rows', want yes yes"
n=$(ls "$R/src/build/demo/figures/"*.png 2>/dev/null | wc -l)
[ "$n" -eq 7 ] && ok "the demo's 7 figures drawn" || bad "$n figures drawn, want 7"
left=$(ip netns list 2>/dev/null | grep -c '^dbavm-' || true)
[ "$left" -eq 0 ] && ok "no namespace left by the demo" || bad "$left dbavm- namespaces left"

echo "== the tree built with -Werror by gcc 14 (the agent, dbavmctl, the testbed, the BPF programs)"
if inside 'cmake -S . -B build/werror -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF -DDBAVM_WERROR=ON >/dev/null && cmake --build build/werror -j 2' >"$work/build.log" 2>&1; then
	ok "built with -Werror: $(grep -c 'warning' "$work/build.log") warnings"
else
	bad "the -Werror build failed: $(grep -E 'warning|error' "$work/build.log" | head -10)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
