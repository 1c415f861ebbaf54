#!/usr/bin/python3
"""Placement's cost to the agent, against a real Keystone and Placement on loopback
(tests/support/ostack.py), the agent on the sim platform.

  bench_placement.py DBAVMD [CHANGES]

1. Capacity change to inventory: eth0's capacity changes every 3 s (CHANGES times, default 9;
   1 and 2 Gbit/s in turn); for each, the time from the period the change took effect in to
   Placement holding the new total (polled every 20 ms). The agent's time 0 is placed from
   its tick counter (GET /host) to within a few ms. Prints each delay and the median.
2. Period lateness at a 10 ms period (the lateness histogram of /metrics, differenced per
   phase of 20 s): Placement in sync and resynced every second; Placement refusing
   connections; Placement's port accepting nothing (connects hang to their 5 s timeout);
   Placement answering every request 2 s late. p99 is the upper bound of the bucket the 99th
   percentile falls in. The same for an agent without --os-credentials, for reference.
Everything it starts it stops by its PID.
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ostack import OpenStack  # noqa: E402
from testkit import free_port  # noqa: E402

DBAVMD = sys.argv[1]
CHANGES = int(sys.argv[2]) if len(sys.argv) > 2 else 9
BW = "NET_BW_EGR_KILOBIT_PER_SEC"
work = tempfile.mkdtemp(prefix="dbavm-bench-placement-")
procs = []


def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return data


def start_agent(scenario, period, args):
    port = free_port()
    state = tempfile.mkdtemp(dir=work)
    p = subprocess.Popen(["timeout", "900", DBAVMD, "--platform", "sim", "--scenario", scenario,
                          "--period", str(period), "--listen", "127.0.0.1:%d" % port,
                          "--state-dir", state, "--log-level", "warn"] + args,
                         stdout=subprocess.DEVNULL, stderr=open(state + ".log", "w"))
    procs.append(p)
    for _ in range(100):
        try:
            get(port, "/healthz")
            break
        except OSError:
            time.sleep(0.05)
    return p, port


def time_zero(port, period_s):
    """The agent's time 0 on our monotonic clock: tick k falls in [T0 + kP, T0 + (k+1)P)."""
    lo, hi = -1e18, 1e18
    for _ in range(60):
        t = time.monotonic()
        k = json.loads(get(port, "/host"))["tick"]
        t2 = time.monotonic()
        lo = max(lo, t - (k + 1) * period_s)
        hi = min(hi, t2 - k * period_s)
        time.sleep(0.013)
    return (lo + hi) / 2, (hi - lo) / 2


def lateness(port):
    buckets = {}
    for line in get(port, "/metrics").splitlines():
        if line.startswith("dbavm_loop_lateness_seconds_bucket"):
            le = line.split('le="')[1].split('"')[0]
            buckets[float("inf") if le == "+Inf" else float(le)] = int(line.rsplit(" ", 1)[1])
    return buckets


def p99(b0, b1):
    n = b1[float("inf")] - b0[float("inf")]
    for le in sorted(b1):
        if n and (b1[le] - b0.get(le, 0)) >= 0.99 * n:
            return le, n
    return float("inf"), n


def phase(port, what, seconds, rows):
    b0 = lateness(port)
    over0 = json.loads(get(port, "/host"))["overruns"]
    time.sleep(seconds)
    b1 = lateness(port)
    over = json.loads(get(port, "/host"))["overruns"] - over0
    le, n = p99(b0, b1)
    rows.append((what, n, le * 1e3, over))


def main():
    scen = os.path.join(work, "scenario.json")
    changes = [{"t_ms": 5000 + 3000 * i, "capacity_bps": 2000000000 if i % 2 == 0 else
                1000000000} for i in range(CHANGES)]
    with open(scen, "w") as f:
        json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 1000000000,
                                "changes": changes}],
                   "host": {"capacity_pps": 190000},
                   "vms": [{"id": "vm%d" % i, "uuid": str(uuid.uuid4()),
                            "vifs": [{"id": "vif%d.0" % i, "uplink": "eth0",
                                      "demand": [{"t_ms": 0, "bps": 100000000,
                                                  "frame_bytes": 1500}]}]}
                           for i in range(1, 5)]}, f)
    with OpenStack(token_expiration=3600) as os_:
        host, cn = "bench-%s" % uuid.uuid4().hex[:6], str(uuid.uuid4())
        os_.placement("POST", "/resource_providers", {"name": host, "uuid": cn})
        creds = os_.openrc(os.path.join(work, "openrc"))
        eth0 = str(uuid.uuid5(uuid.UUID("a3b7f0e2-4c1d-4e8b-9f6a-0d2c5e7b1a93"),
                              host + ":dbavm:eth0"))

        # ---- 1: capacity change to inventory ----
        p, port = start_agent(scen, 100, ["--os-credentials", creds, "--placement-host-name",
                                          host])
        t0, err = time_zero(port, 0.1)
        delays = []
        for ch in changes:
            want = ch["capacity_bps"] // 1000
            t_change = t0 + ch["t_ms"] / 1000
            while time.monotonic() < t_change - 0.05:
                time.sleep(0.01)
            end = t_change + 15
            while time.monotonic() < end:
                st, d = os_.placement("GET", "/resource_providers/%s/inventories" % eth0,
                                      expect=None)
                if st == 200 and d["inventories"].get(BW, {}).get("total") == want:
                    delays.append(time.monotonic() - t_change)
                    break
                time.sleep(0.02)
            else:
                delays.append(float("inf"))
        p.terminate()
        p.wait()
        print("capacity change -> Placement inventory (agent time 0 placed within +-%.1f ms)"
              % (err * 1e3))
        print("  delays (s): " + " ".join("%.3f" % d for d in delays))
        print("  median %.3f s over %d changes" % (statistics.median(delays), len(delays)))

        # ---- 2: period lateness at 10 ms ----
        steady = os.path.join(work, "steady.json")
        with open(scen) as f:
            doc = json.load(f)
        del doc["uplinks"][0]["changes"]
        with open(steady, "w") as f:
            json.dump(doc, f)
        rows = []
        ref, ref_port = start_agent(steady, 10, [])
        time.sleep(2)
        phase(ref_port, "no --os-credentials (reference)", 20, rows)
        ref.terminate()
        ref.wait()
        p, port = start_agent(steady, 10, ["--os-credentials", creds, "--placement-host-name",
                                           host, "--placement-resync", "1"])
        time.sleep(4)
        phase(port, "placement in sync, resync every 1 s", 20, rows)
        os_.proxy.stop()
        phase(port, "placement refusing connections", 20, rows)
        # a port that takes no connection: its backlog is full, further SYNs are dropped
        hole = socket.socket()
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", os_.proxy.port))
        hole.listen(0)
        fillers = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", os_.proxy.port))
            fillers.append(s)
        phase(port, "placement's port taking no connection", 20, rows)
        for s in fillers:
            s.close()
        hole.close()
        os_.proxy.delay_s = 2.0
        os_.proxy.start()
        phase(port, "placement answering 2 s late", 20, rows)
        m = get(port, "/metrics")
        p.terminate()
        p.wait()
        print("period lateness at a 10 ms period, 20 s per phase")
        print("  %-40s %8s %10s %9s" % ("phase", "periods", "p99_ms<=", "overruns"))
        for what, n, le, over in rows:
            print("  %-40s %8d %10.1f %9d" % (what, n, le, over))
        for line in m.splitlines():
            if line.startswith("dbavm_placement_sync_"):
                print("  " + line)


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()  # timeout passes SIGTERM on to the agent
            p.wait()
    subprocess.run(["rm", "-rf", work])
