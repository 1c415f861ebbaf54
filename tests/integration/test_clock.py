#!/usr/bin/python3
"""Absence on a clock no step moves. A real dbavmd on the sim (loopback) under libfaketime, whose
wall clock the test steps while it runs (a file the library reads at every call; the monotonic
and boot clocks are left alone, as NTP leaves them), with --forget-absent-after 20:

  test_clock.py DBAVMD

- A host that boots three years behind: gone1 is PUT (a VM about to migrate in), then the clock
  is stepped to today, three years ahead, back ten days: gone1 is kept throughout, and GET /vms
  says it is absent since its PUT, by the clock as it reads now.
- The agent restarts three years behind: gone1's absence goes on from where it was (the time
  the agent was stopped counts), not from the restart, nor from a wall-clock difference.
- A PUT while the clock reads 1969 (before the epoch): written, read back at the next start,
  nothing lost.
- gone1 is forgotten 20 s after its PUT by the boot's clock, whatever the wall clock did.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import SimAgent, check, run_test, wait_for  # noqa: E402

DBAVMD = sys.argv[1]
work = tempfile.mkdtemp(prefix="dbavm-clock-test-")
procs = []
TOKEN = "s3cret0123456789"
FORGET = 20
LIBFAKETIME = "/usr/lib/%s/faketime/libfaketime.so.1" % subprocess.run(
    ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True, text=True).stdout.strip()
state = os.path.join(work, "state")
token = os.path.join(work, "token")
scenario = os.path.join(work, "scenario.json")
clock = os.path.join(work, "clock")  # what the agent's wall clock reads: faketime's syntax


def step(spec):
    """Steps the agent's wall clock, as NTP would (written whole: the library reads it each
    call)."""
    with open(clock + ".new", "w") as f:
        f.write(spec + "\n")
    os.rename(clock + ".new", clock)


class Agent(SimAgent):
    """The agent under libfaketime, its wall clock what the clock file says."""

    def __init__(self, tag):
        # (under AddressSanitizer, its runtime must not insist on coming first: the library
        # is preloaded before it)
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=clock,
                   FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1",
                   ASAN_OPTIONS=(asan + ":" if asan else "") + "verify_asan_link_order=0")
        super().__init__(DBAVMD, work, procs, tag, TOKEN,
                         ["--scenario", scenario, "--state-dir", state, "--token-file", token,
                          "--forget-absent-after", str(FORGET), "--period", "100"], env)

    def vm(self, id_):
        return self.vms().get(id_)

    def now(self):
        """The agent's wall clock, as its Date header says (what GET /vms reads times by)."""
        req = urllib.request.Request("http://127.0.0.1:%d/healthz" % self.port)
        with urllib.request.urlopen(req, timeout=5) as r:
            return time.mktime(time.strptime(r.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT")) \
                - time.timezone


SLA = {"priority": 1, "packet_rate": {"min_pps": 1000, "max_pps": None}}
YEARS3 = 3 * 365 * 86400


def main():
    if not os.path.exists(LIBFAKETIME):
        check("libfaketime at " + LIBFAKETIME + " (packaging/install-deps.sh installs it)",
              False)
        return
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token, 0o600)
    with open(scenario, "w") as f:
        json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 10000000000}],
                   "host": {"capacity_pps": 100000},
                   "vms": [{"id": "vm1", "vifs": [{"id": "vif-vm1", "uplink": "eth0",
                            "demand": [{"t_ms": 0, "bps": 1000000, "frame_bytes": 1000}]}]}]},
                  f)

    step("-1095d")  # the host booted with its clock three years behind
    a = Agent("a")
    check("the agent's clock reads three years behind", abs(a.now() - (time.time() - YEARS3))
          < 5, a.now())
    t_put = time.monotonic()
    check("PUT gone1, a VM not on the host yet",
          a.call("PUT", "/vms/gone1/sla", SLA)[0] == 201)
    g = a.vm("gone1") or {}
    check("GET /vms: absent since its PUT, by the clock that reads three years behind",
          abs(g.get("absent_since", 0) - a.now()) <= 2, g)
    for spec, what in (("+0", "stepped to today"), ("+1095d", "three years ahead"),
                       ("-10d", "ten days behind")):
        time.sleep(1)
        step(spec)
        time.sleep(1.5)  # the absences are looked at once a second
        g = a.vm("gone1") or {}
        since = time.monotonic() - t_put
        check("clock %s: gone1 kept, absent since its PUT %.0f s ago by the clock as it reads"
              % (what, since), g and abs(a.now() - g.get("absent_since", 0) - since) <= 2,
              (a.now(), g))
    check("nothing forgotten", "sla forgotten" not in a.output(), a.output()[-500:])
    check("a's exit status 0", a.stop() == 0)

    step("-1095d")  # restarted three years behind again
    b = Agent("b")
    g = b.vm("gone1") or {}
    since = time.monotonic() - t_put
    check("after a restart three years behind: absent %.0f s, the stop included" % since,
          g and abs(b.now() - g.get("absent_since", 0) - since) <= 2, (b.now(), g))
    step("@1969-06-01 00:00:00")
    check("PUT gone2 while the clock reads 1969", b.call("PUT", "/vms/gone2/sla", SLA)[0] == 201)
    check("b's exit status 0", b.stop() == 0)

    step("+0")
    c = Agent("c")
    check("after a start at today's time: gone2's record read back, ready (nothing lost)",
          c.call("GET", "/vms/gone2/sla")[0] == 200 and c.call("GET", "/readyz")[0] == 200 and
          "lost=no" in c.output(), c.output()[-600:])
    gone = wait_for(lambda: c.vm("gone1") is None, FORGET + 5)
    took = time.monotonic() - t_put
    check("gone1 forgotten %.1f s after its PUT by the boot's clock (--forget-absent-after %d)"
          % (took, FORGET), gone and FORGET - 1 <= took <= FORGET + 3)
    check("c's exit status 0", c.stop() == 0)


run_test(main, work, procs)
