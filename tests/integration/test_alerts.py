#!/usr/bin/python3
"""The shipped Prometheus rules (packaging/prometheus/dbavm.rules.yml) in a real Prometheus
scraping a real dbavmd (sim platform, loopback), while VMs miss their guarantees.

  test_alerts.py DBAVMD RULES_FILE

The host: one 1 Gbit/s uplink, vm1 and vm2 each guaranteed 600 Mbit/s (over-committed: each
gets 500), vm3 without a guarantee, all three offering 1 Gbit/s. The rules are loaded with
their windows shortened to seconds (rate windows 5 s, `for` 3 s; the expressions as shipped),
Prometheus scrapes and evaluates every second. DbavmGuaranteeNotMet must fire for vm1 and vm2
and not vm3, DbavmUplinkOvercommitted for the uplink, nothing else; then, with the SLAs lowered
to fit (PUT, 400 Mbit/s each), both must resolve. Everything it starts it stops by its PID.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, wait_for  # noqa: E402

DBAVMD, RULES = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="dbavm-alerts-test-")
procs = []


def get(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        data = r.read()
        c.close()
        return json.loads(data) if r.status == 200 else None
    except (OSError, ValueError):
        return None


def firing(prom_port):
    doc = get(prom_port, "/api/v1/alerts") or {}
    return sorted((a["labels"]["alertname"], a["labels"].get("vm") or a["labels"].get("uplink"))
                  for a in doc.get("data", {}).get("alerts", []) if a["state"] == "firing")


def main():
    scenario = os.path.join(work, "overcommitted.json")
    demand = [{"t_ms": 0, "bps": 1000000000, "frame_bytes": 1500}]
    with open(scenario, "w") as f:
        json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 1000000000}], "vms": [
            {"id": "vm1", "sla": {"priority": 1, "bandwidth": {"min_bps": 600000000}},
             "vifs": [{"id": "vif1.0", "uplink": "eth0", "demand": demand}]},
            {"id": "vm2", "sla": {"priority": 1, "bandwidth": {"min_bps": 600000000}},
             "vifs": [{"id": "vif2.0", "uplink": "eth0", "demand": demand}]},
            {"id": "vm3", "vifs": [{"id": "vif3.0", "uplink": "eth0", "demand": demand}]}]}, f)
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("s3cret0123456789\n")
    os.chmod(token, 0o600)
    port = free_port()
    agent = subprocess.Popen(["timeout", "300", DBAVMD, "--platform", "sim", "--scenario",
                              scenario, "--listen", "127.0.0.1:%d" % port, "--state-dir",
                              os.path.join(work, "state"), "--token-file", token],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, "agent.log"), "w"))
    procs.append(agent)

    with open(RULES) as f:
        rules = f.read()
    rules = re.sub(r"\[\d+m\]", "[5s]", rules)
    rules = re.sub(r"for: \d+m", "for: 3s", rules)
    with open(os.path.join(work, "rules.yml"), "w") as f:
        f.write(rules)
    prom_port = free_port()
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files: [%s]\nscrape_configs:\n  - job_name: dbavm\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % (os.path.join(work, "rules.yml"), port))
    prom = subprocess.Popen(["timeout", "200", "prometheus",
                             "--config.file=" + os.path.join(work, "prometheus.yml"),
                             "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port,
                             "--log.level=warn"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "prom.log"), "w"))
    procs.append(prom)

    want = [("DbavmGuaranteeNotMet", "vm1"), ("DbavmGuaranteeNotMet", "vm2"),
            ("DbavmUplinkOvercommitted", "eth0")]
    got = wait_for(lambda: firing(prom_port) == want, 60, 0.5)
    check("two VMs short of their guarantee on an over-committed uplink: the alerts fire for "
          "them and the uplink, not for the VM without a guarantee", got,
          (firing(prom_port), open(os.path.join(work, "prom.log")).read()[-500:]))

    for vm in ("vm1", "vm2"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("PUT", "/vms/%s/sla" % vm, json.dumps(
            {"priority": 1, "bandwidth": {"min_bps": 400000000}}),
            {"Authorization": "Bearer s3cret0123456789", "Content-Type": "application/json"})
        st = c.getresponse().status
        c.close()
        check("%s's guarantee lowered to 400 Mbit/s (PUT %d)" % (vm, st), st == 200)
    got = wait_for(lambda: firing(prom_port) == [], 60, 0.5)
    check("the guarantees fit again: every alert resolves", got, firing(prom_port))


run_test(main, work, procs)
