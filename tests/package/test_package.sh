#!/bin/sh
# The Debian package, as an operator meets it: built by dpkg-buildpackage from a clean copy
# of the tree (packaging/debian as debian/), checked by lintian (no error, no warning),
# installed into a fresh Debian 12 root (tests/testbed/debian-root.sh: debootstrap, cached),
# that root booted with systemd as PID 1 in a container (systemd-nspawn -b, loopback only) to
# run tests/package/pkgtest-inside.sh, then upgraded and purged.
#   test_package.sh SOURCE_DIR
# Everything is made under a temporary directory, removed on exit, failure or signal; the
# container is bounded by timeout.
set -eu
SRC=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/dbavm-pkg-XXXXXX)
passed=0
failed=0
cleanup() {
	if [ -n "${root:-}" ] && [ -d "$root/proc" ]; then
		umount "$root/proc" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() {
	what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
for tool in dpkg-buildpackage dh lintian debootstrap systemd-nspawn; do
	command -v "$tool" >/dev/null || {
		echo "FAIL $tool is missing (packaging/install-deps.sh installs it)"
		exit 1
	}
done

echo "== build"
mkdir "$work/src"
(cd "$SRC" && git ls-files -z | xargs -0 tar -cf - --) | tar -xf - -C "$work/src"
cp -r "$work/src/packaging/debian" "$work/src/debian"
t0=$(date +%s)
if (cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - t0)) s)"
else
	bad "dpkg-buildpackage"
	tail -30 "$work/build.log"
	exit 1
fi
deb=$(ls "$work"/dbavm_*_amd64.deb)
echo "$(basename "$deb"): $(dpkg-deb -c "$deb" | awk '{print $6}' | grep -v '/$' | tr '\n' ' ')"
lintian --fail-on error,warning --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1 &&
	rc=0 || rc=$?
lint=$(grep -v 'running with root privileges' "$work/lintian.log" || true)
check "lintian: no error, no warning${lint:+ ($lint)}" test "$rc" = 0 -a -z "$lint"
dpkg-deb -c "$deb" | awk '{print $6}' >"$work/files"
check "the package holds the binaries, man pages, unit, config, README, rules and dashboard" \
	sh -c "grep -qx ./usr/sbin/dbavmd '$work/files' &&
	       grep -q 'man8/dbavmd.8.gz$' '$work/files' &&
	       grep -qx ./usr/bin/dbavmctl '$work/files' &&
	       grep -q 'man1/dbavmctl.1.gz$' '$work/files' &&
	       grep -qx ./usr/share/dbavm/prometheus/dbavm.rules.yml '$work/files' &&
	       grep -qx ./usr/share/dbavm/grafana/dbavm.json '$work/files' &&
	       grep -q 'systemd/system/dbavmd.service$' '$work/files' &&
	       grep -qx ./etc/dbavm/dbavmd.conf '$work/files' &&
	       grep -q 'doc/dbavm/README.md' '$work/files'"
dpkg-deb -e "$deb" "$work/control"
check "the config is a conffile" grep -qx /etc/dbavm/dbavmd.conf "$work/control/conffiles"

echo "== install into a fresh Debian 12 root"
base=$("$SRC/tests/testbed/debian-root.sh" pkg-root "systemd systemd-sysv dbus man-db curl ca-certificates procps iproute2 libjansson4 libmicrohttpd12 libbpf1 libmnl0 libssl3 libcurl4 libgnutls30 libsystemd0 libxenstore4 libxenmisc4.17")
root="$work/root"
cp -a "$base" "$root"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" "$@"; }
# apt as this machine has it (its mirror, with updates and security), so that the package's
# dependencies resolve to the versions it was built against
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" # no service starts in a chroot
chmod 755 "$root/usr/sbin/policy-rc.d"
if in_root apt-get -q update >"$work/install.log" 2>&1 &&
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install \
		"/tmp/$(basename "$deb")" >>"$work/install.log" 2>&1; then
	ok "apt-get install ./$(basename "$deb")"
else
	bad "apt-get install"
	tail -20 "$work/install.log"
	exit 1
fi
rm -f "$root/usr/sbin/policy-rc.d"
check "install made /etc/dbavm/token, mode 600, 64 hex digits" \
	sh -c "test \"\$(stat -c %a '$root/etc/dbavm/token')\" = 600 &&
	       grep -Eqx '[0-9a-f]{64}' '$root/etc/dbavm/token'"
check "install made /var/lib/dbavm, mode 700" test "$(stat -c %a "$root/var/lib/dbavm")" = 700
check "the unit is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/dbavmd.service"
token=$(cat "$root/etc/dbavm/token")

# The operator's configuration: the sim platform, a scenario beside it.
cp "$SRC/tests/support/data/paper-scenario1.json" "$root/etc/dbavm/scenario.json"
printf 'platform sim\nscenario /etc/dbavm/scenario.json\n' >>"$root/etc/dbavm/dbavmd.conf"
cp "$SRC/tests/package/pkgtest-inside.sh" "$root/usr/local/bin/dbavm-pkgtest"
cat >"$root/etc/systemd/system/dbavm-pkgtest.service" <<'UNIT'
[Unit]
Description=dbavm package test
After=dbavmd.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/dbavm-pkgtest
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/dbavm-pkgtest.service \
	"$root/etc/systemd/system/multi-user.target.wants/dbavm-pkgtest.service"
echo "dbavm-pkg" >"$root/etc/hostname"

echo "== boot it (systemd as PID 1, loopback only)"
t0=$(date +%s)
timeout -k 10 300 systemd-nspawn -q -D "$root" --private-network --register=no --keep-unit \
	--machine=dbavm-pkg -b >"$work/boot.log" 2>&1 || true
echo "(container ran $(($(date +%s) - t0)) s)"
if [ -f "$root/root/pkgtest.out" ]; then
	while IFS= read -r line; do
		case "$line" in
		"ok   "*) ok "${line#ok   }" ;;
		"FAIL "*) bad "${line#FAIL }" ;;
		*) echo "$line" ;;
		esac
	done <"$root/root/pkgtest.out"
	grep -qx DONE "$root/root/pkgtest.out" || bad "the checks inside did not finish"
else
	bad "the container wrote no results"
	tail -30 "$work/boot.log"
fi

echo "== upgrade, then purge"
mkdir "$work/next"
dpkg-deb -R "$deb" "$work/next/pkg"
sed -i 's/^Version: .*/&+1/' "$work/next/pkg/DEBIAN/control"
dpkg-deb -b "$work/next/pkg" "$root/tmp/next.deb" >/dev/null
in_root dpkg -i /tmp/next.deb >"$work/upgrade.log" 2>&1 || { bad "upgrade"; cat "$work/upgrade.log"; }
check "upgraded to $(dpkg-deb -f "$root/tmp/next.deb" Version)" \
	sh -c "chroot '$root' dpkg-query -W -f '\${Version}' dbavm | grep -q '+1$'"
check "the upgrade kept the token" test "$(cat "$root/etc/dbavm/token")" = "$token"
check "the upgrade kept the operator's config" grep -q '^platform sim' "$root/etc/dbavm/dbavmd.conf"
check "the upgrade kept the SLA state (its log of changes)" test -s "$root/var/lib/dbavm/slas.log"
in_root dpkg --purge dbavm >"$work/purge.log" 2>&1 || { bad "purge"; cat "$work/purge.log"; }
check "purge removed the token, the config and the state" \
	sh -c "! test -e '$root/etc/dbavm/token' && ! test -e '$root/etc/dbavm/dbavmd.conf' &&
	       ! test -e '$root/var/lib/dbavm'"
check "purge removed the binary and the unit" \
	sh -c "! test -e '$root/usr/sbin/dbavmd' && ! test -e '$root/lib/systemd/system/dbavmd.service'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
