#!/usr/bin/python3
"""The SLAs of VMs that are not on the host: a reservation that holds, and ends. Against a real
dbavmd on the sim (loopback), with --forget-absent-after 4:

  test_absent.py DBAVMD

- gone1 (60 kpps) and gone2 (30 kpps) are PUT and never come, on a 100 kpps host: the present
  vm1's 20 kpps guarantee is refused (409) while they reserve theirs; GET /vms says since when
  each is absent and when it will be forgotten.
- The agent restarts: the absences are the ones it stored, not restarted from zero.
- 4 s after their PUT both are dropped (logged, counted in dbavm_slas_forgotten_total), and
  vm1's guarantee is admitted.
- vmleave, present with an SLA, leaves the sim at 3 s: absent from then, forgotten 4 s after.
- A port's own SLA, PUT by a MAC no vif has, is reserved the same way (on the host's
  budget, 2 kpps), kept across a restart with its absence, and forgotten with gone1 and gone2.
- A restart after all this brings none of the forgotten SLAs back; a stored SLA with an
  ingress side that this enforcer (the sim's) does not hold is taken and said at warn.
"""
import json
import os
import zlib
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import SimAgent, check, run_test, wait_for  # noqa: E402

DBAVMD = sys.argv[1]
work = tempfile.mkdtemp(prefix="dbavm-absent-test-")
procs = []
TOKEN = "s3cret0123456789"
FORGET = 4


def vm(id_, stop_ms=None):
    v = {"id": id_, "vifs": [{"id": "vif-" + id_, "uplink": "eth0",
                               "demand": [{"t_ms": 0, "bps": 1000000, "frame_bytes": 1000}]}]}
    if stop_ms:
        v["stop_ms"] = stop_ms
    return v


def sla(min_pps):
    return {"priority": 1, "packet_rate": {"min_pps": min_pps, "max_pps": None}}


def Agent(tag):
    return SimAgent(DBAVMD, work, procs, tag, TOKEN,
                    ["--scenario", scenario, "--state-dir", state, "--token-file", token,
                     "--forget-absent-after", str(FORGET), "--period", "100"])


state = os.path.join(work, "state")
token = os.path.join(work, "token")
scenario = os.path.join(work, "scenario.json")


def main():
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token, 0o600)
    with open(scenario, "w") as f:
        json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 10000000000}],
                   "host": {"capacity_pps": 100000},
                   "vms": [vm("vm1"), vm("vmleave", stop_ms=3000)]}, f)

    a = Agent("a")
    t_put = time.time()
    check("PUT gone1 (60 kpps), never on the host: reserved",
          a.call("PUT", "/vms/gone1/sla", sla(60000))[0] == 201)
    check("PUT gone2 (30 kpps): reserved", a.call("PUT", "/vms/gone2/sla", sla(30000))[0] == 201)
    check("PUT a port's own SLA by a MAC no vif has (2 kpps): reserved",
          a.call("PUT", "/ports/02-00-00-00-0F-0F/sla", sla(2000))[0] == 201)
    s, body = a.call("PUT", "/vms/vm1/sla", sla(20000))
    check("vm1's 20 kpps refused while they reserve theirs (409)", s == 409, (s, body))
    s, p1 = a.call("GET", "/ports/02:00:00:00:0f:0f")
    check("GET /ports/{mac}: absent since its PUT, forgotten %d s after" % FORGET,
          s == 200 and not p1.get("present") and abs(p1.get("absent_since", 0) - t_put) <= 2
          and p1.get("forgotten_at") == p1.get("absent_since", 0) + FORGET, (s, p1))
    check("PUT vmleave (5 kpps), present", a.call("PUT", "/vms/vmleave/sla", sla(5000))[0] == 201)
    v = a.vms()
    g1 = v.get("gone1", {})
    check("GET /vms: gone1 absent since its PUT, forgotten %d s after" % FORGET,
          not g1.get("present") and abs(g1.get("absent_since", 0) - t_put) <= 2 and
          g1.get("forgotten_at") == g1.get("absent_since", 0) + FORGET, g1)
    check("GET /vms: vmleave present, neither", v.get("vmleave", {}).get("present") and
          v["vmleave"].get("absent_since") is None and v["vmleave"].get("forgotten_at") is None,
          v.get("vmleave"))
    check("vm1 present, no absence", v.get("vm1", {}).get("absent_since", 0) is None)
    check("a's exit status 0", a.stop() == 0)

    b = Agent("b")
    g1b = b.vms().get("gone1", {})
    check("after a restart, gone1's absence is the stored one (%s), not the restart's"
          % g1b.get("absent_since"), g1b.get("absent_since") == g1.get("absent_since"), g1b)
    s, p1b = b.call("GET", "/ports/02:00:00:00:0f:0f")
    check("after a restart, the port's absence is the stored one",
          s == 200 and p1b.get("absent_since") == p1.get("absent_since"), (s, p1b))
    gone = wait_for(lambda: "gone1" not in b.vms() and "gone2" not in b.vms() and
                    b.call("GET", "/ports/02:00:00:00:0f:0f")[0] == 404, FORGET + 3)
    took = time.time() - t_put
    # absences are kept to the second: forgotten up to a second early, and checked once a second
    check("gone1 and gone2 forgotten %.1f s after their PUT (--forget-absent-after %d)"
          % (took, FORGET), gone and FORGET - 1 <= took <= FORGET + 3)
    check("... their SLAs gone (404)", b.call("GET", "/vms/gone1/sla")[0] == 404)
    check("... logged", b.output().count("sla forgotten, its vm absent too long") >= 2 and
          "sla forgotten, its port absent too long port=02:00:00:00:0f:0f" in b.output(),
          b.output()[-800:])
    s, body = b.call("PUT", "/vms/vm1/sla", sla(20000))
    check("vm1's 20 kpps now admitted", s in (200, 201), (s, body))
    left = wait_for(lambda: b.vms().get("vmleave", {}).get("absent_since"), 6)
    t_left = time.time()
    vl = b.vms().get("vmleave", {})
    check("vmleave left the sim at 3 s: absent, its SLA forgotten at %s" % vl.get("forgotten_at"),
          left and not vl.get("present") and vl.get("forgotten_at") == vl["absent_since"] + FORGET,
          vl)
    forgot = wait_for(lambda: "vmleave" not in b.vms(), FORGET + 3)
    check("vmleave's SLA forgotten %.1f s after it left" % (time.time() - t_left),
          forgot and time.time() - t_left >= FORGET - 1.5)
    check("dbavm_slas_forgotten_total 4 (three VMs' and the port's)",
          b.metric("dbavm_slas_forgotten_total") == 4,
          b.metric("dbavm_slas_forgotten_total"))
    check("b's exit status 0", b.stop() == 0)
    # A change the API would refuse under this enforcer, written as an agent whose enforcer
    # holds ingress would have: one line of the log, its CRC over its JSON.
    body = json.dumps({"id": "vmin", "sla": {
        "priority": 1, "weight": 1, "bandwidth": {"min_bps": 0, "max_bps": None},
        "packet_rate": {"min_pps": 0, "max_pps": None},
        "ingress": {"priority": 1, "weight": 1, "bandwidth": {"min_bps": 0, "max_bps": 5000000},
                    "packet_rate": {"min_pps": 0, "max_pps": None}}}},
        separators=(",", ":"), sort_keys=True)
    with open(os.path.join(state, "slas.log"), "a") as f:
        f.write("%08x %s\n" % (zlib.crc32(body.encode()), body))

    c = Agent("c")
    v = c.vms()
    check("after a restart, none of the forgotten SLAs is back",
          all(c.call("GET", "/vms/%s/sla" % i)[0] == 404 for i in ("gone1", "gone2")) and
          c.call("GET", "/vms/vm1/sla")[0] == 200 and
          c.call("GET", "/ports/02:00:00:00:0f:0f/sla")[0] == 404, sorted(v))
    check("a stored ingress side the sim does not hold: taken, and said at warn",
          c.call("GET", "/vms/vmin/sla")[1].get("ingress", {}).get("bandwidth", {})
          .get("max_bps") == 5000000 and
          "level=warn stored sla has an ingress side this enforcer does not hold: not "
          "enforced vm=vmin" in c.output(), c.output()[-600:])
    check("c's exit status 0", c.stop() == 0)


run_test(main, work, procs)
