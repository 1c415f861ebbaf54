#!/usr/bin/python3
"""Unknown is null: a vif whose counters cannot be read. A real dbavmd on the sim (loopback),
whose scenario makes vm1's vif b unreadable from 3 s to 6 s (its counters' source failing, as
a dom0 without clsact fails the BPF tap), beside vm1's vif a and vm2's c, which read:

  test_uncounted.py DBAVMD

- While b is not counted: its rates and vm1's (and vm1's loss) are null, never 0; a and vm2
  are figures; GET /readyz is 503 and names vm1, b, the error and the periods; the metric
  dbavm_vif_counted is 0 for b alone, dbavm_ready 0; a history entry of vm1 is null. Under
  --auth-reads a caller without the token is told how many vifs, not which.
- The log says it once when it becomes a problem, and once when b is counted again.
- Afterwards: ready again, b counted, and nothing b sent is missing from the totals (its
  bytes since the start 0.6 of a's, within 3 %: 30 against 50 Mbit/s), as its source kept
  counting while it could not be read.
"""
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import SimAgent, check, run_test, wait_for  # noqa: E402

DBAVMD = sys.argv[1]
work = tempfile.mkdtemp(prefix="dbavm-uncounted-test-")
procs = []
TOKEN = "s3cret0123456789"
B_BPS = 30000000
SCENARIO = {
    "uplinks": [{"name": "eth0", "capacity_bps": 1000000000}],
    "vms": [
        {"id": "vm1", "start_ms": 0, "stop_ms": 600000, "vifs": [
            {"id": "a", "uplink": "eth0",
             "demand": [{"t_ms": 0, "bps": 50000000, "frame_bytes": 1000}]},
            {"id": "b", "uplink": "eth0", "unreadable": {"from_ms": 3000, "to_ms": 6000},
             "demand": [{"t_ms": 0, "bps": B_BPS, "frame_bytes": 1000}]}]},
        {"id": "vm2", "start_ms": 0, "stop_ms": 600000, "vifs": [
            {"id": "c", "uplink": "eth0",
             "demand": [{"t_ms": 0, "bps": 10000000, "frame_bytes": 500}]}]}]}


def metric_line(agent, prefix):
    body = agent.call("GET", "/metrics")[1].decode()
    return [ln for ln in body.splitlines() if ln.startswith(prefix)]


def readyz_anonymous(agent):
    """GET /readyz without the token."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % agent.port, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def main():
    scenario = os.path.join(work, "scenario.json")
    token = os.path.join(work, "token")
    with open(scenario, "w") as f:
        json.dump(SCENARIO, f)
    with open(token, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token, 0o600)
    agent = SimAgent(DBAVMD, work, procs, "agent", TOKEN,
                     ["--scenario", scenario, "--period", "100", "--token-file", token,
                      "--auth-reads"])
    t0 = time.monotonic()

    vm1 = wait_for(lambda: (lambda v: v if v["passed"]["bps"] else None)(agent.vms()["vm1"]),
                   2)  # (the first period has one reading, and no rate)
    check("before the fault: vm1 passed is a figure (80 Mbit/s)",
          vm1["passed"]["bps"] is not None and abs(vm1["passed"]["bps"] - 80e6) < 4e6,
          vm1["passed"])

    # the fault: from 3 s of the sim's time, a problem 3 periods later
    status, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
        agent.call("GET", "/readyz")), 8)
    at = time.monotonic() - t0
    problems = body.get("problems", []) if isinstance(body, dict) else []
    check("GET /readyz 503 while b is not counted (at %.1f s)" % at, status == 503, body)
    check("... naming vm1, b, the error and the periods",
          any("vm vm1 vif b egress" in p and "Input/output error" in p and "periods" in p
              and "null" in p for p in problems), problems)
    status, anon = readyz_anonymous(agent)
    check("... without the token (--auth-reads): how many, not which",
          status == 503 and "1 vif not counted: their figures are null" in anon["problems"]
          and not any("vm1" in p for p in anon["problems"]), anon)

    vms = agent.vms()
    vm1, vm2 = vms["vm1"], vms["vm2"]
    vifs = {v["id"]: v for v in vm1["vifs"]}
    b, a = vifs["b"], vifs["a"]
    check("b's rates are null, not 0",
          b["passed"] == {"bps": None, "pps": None} and b["offered"] == {"bps": None, "pps": None}
          and b["dropped"] == {"bps": None, "pps": None}, b)
    check("b's counters say not counted, why and for how long",
          b["counters"]["counted"] is False and b["counters"]["error"] == "Input/output error"
          and b["counters"]["unread_periods"] >= 3, b["counters"])
    check("vm1's rates and loss are null (a sum without b is no figure of vm1's)",
          vm1["passed"]["bps"] is None and vm1["offered"]["bps"] is None
          and vm1["loss"]["policy"]["pps"] is None and vm1["loss"]["path"]["pps"] is None, vm1)
    check("a, read, is a figure (50 Mbit/s)", a["passed"]["bps"] is not None
          and abs(a["passed"]["bps"] - 50e6) < 2.5e6 and a["counters"]["counted"], a)
    check("vm2 is a figure (10 Mbit/s)", vm2["passed"]["bps"] is not None
          and abs(vm2["passed"]["bps"] - 10e6) < 0.5e6, vm2["passed"])
    lines = metric_line(agent, "dbavm_vif_counted{")
    check("dbavm_vif_counted 0 for b alone",
          'dbavm_vif_counted{vm="vm1",vif="b",direction="egress",source=""} 0' in lines
          and 'dbavm_vif_counted{vm="vm1",vif="a",direction="egress",source=""} 1' in lines
          and 'dbavm_vif_counted{vm="vm2",vif="c",direction="egress",source=""} 1' in lines,
          lines)
    check("dbavm_ready 0", agent.metric("dbavm_ready") == 0)

    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        agent.call("GET", "/readyz")), 8)
    check("GET /readyz 200 once b is read again (at %.1f s)" % (time.monotonic() - t0),
          status == 200, body)
    time.sleep(1.5)  # a history entry after the fault
    vm1 = agent.vms()["vm1"]
    b = {v["id"]: v for v in vm1["vifs"]}["b"]
    check("b counted again, 30 Mbit/s", b["counters"]["counted"] and b["passed"]["bps"]
          is not None and abs(b["passed"]["bps"] - B_BPS) < 1.5e6, b)
    check("vm1 a figure again (80 Mbit/s)", vm1["passed"]["bps"] is not None
          and abs(vm1["passed"]["bps"] - 80e6) < 4e6, vm1["passed"])
    hist = [p["passed"]["bps"] for p in agent.call("GET", "/vms/vm1/stats")[1]["periods"]]
    check("vm1's history: entries in the fault null, the others figures",
          hist.count(None) >= 2 and all(x is None or abs(x - 80e6) < 4e6 for x in hist)
          and hist[-1] is not None, hist)
    got = agent.call("GET", "/ports/b/stats")[1]["egress"]["passed"]["bytes"]
    a_got = agent.call("GET", "/ports/a/stats")[1]["egress"]["passed"]["bytes"]
    check("nothing b sent is missing from its total: %d bytes, %.4f of a's (50 Mbit/s, always "
          "read), want 0.6 within 3 %%" % (got, got / a_got), abs(got / a_got - 0.6) <= 0.018)
    out = agent.output()
    check("the log says once it is not counted, and once it is again",
          out.count("vif not counted for 3 periods vm=vm1 vif=b direction=egress "
                    "err=\"Input/output error\"") + out.count(
              "vif not counted for 3 periods vm=vm1 vif=b direction=egress "
              "err=Input/output error") == 1
          and out.count("vif counted again vm=vm1 vif=b direction=egress") == 1, out[-2000:])
    check("the agent stops cleanly", agent.stop() == 0)


run_test(main, work, procs)
