#!/usr/bin/python3
"""Every query of the Grafana dashboard (packaging/grafana/dbavm.json) against a real
Prometheus holding a real agent's series: each panel's targets and each variable's query must
return data. Grafana is not in Debian; tests/contract/grafana/check-dashboard.mjs checks the JSON
against Grafana's schema, this checks that what it asks for exists.

  test_dashboard.py DBAVMD DASHBOARD RULES

The agent: dbavmd --dev (root; netns testbed, netfront with delay sampling), a 100 Mbit/s
uplink and a 30 kpps packet budget, the three VMs with SLAs, each sending 20 Mbit/s of UDP with
iperf3 for 25 s, one over its packet maximum (drops by policy). Prometheus scrapes it every second as job
"dbavm" with the shipped rules loaded. Grafana's substitutions are made as Grafana makes them:
$instance and $vm as regexes of every value ("All"), $__rate_interval four scrape intervals.
Every process it starts it stops by its PID; the agent removes its testbed.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, wait_for  # noqa: E402

DBAVMD, DASHBOARD, RULES = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp(prefix="dbavm-dashboard-test-")
procs = []
VMS = ["dbavm-vm1", "dbavm-vm2", "dbavm-vm3"]


def call(port, method, path, body=None, token=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, (json.loads(data) if data else None)
    except (OSError, ValueError):
        return None, None


def start(argv, log):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, log), "w"))
    procs.append(p)
    return p


def prom_query_range(port, expr, seconds):
    end = time.time()
    q = urllib.parse.urlencode({"query": expr, "start": "%.3f" % (end - seconds),
                                "end": "%.3f" % end, "step": "1"})
    status, doc = call(port, "GET", "/api/v1/query_range?" + q)
    if status != 200 or not doc or doc.get("status") != "success":
        return None, doc
    series = [s for s in doc["data"]["result"]
              if any(v[1] not in ("NaN", "+Inf", "-Inf") for v in s["values"])]
    return series, doc


def main():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    token = "s3cret0123456789"
    with open(os.path.join(work, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(work, "token"), 0o600)
    port = free_port()
    agent = start(["timeout", "180", DBAVMD, "--dev", "--enforcer", "netfront", "--uplinks",
                   "dbavm-up0:100000000", "--host-pps", "30000", "--listen",
                   "127.0.0.1:%d" % port, "--state-dir", os.path.join(work, "state"),
                   "--token-file", os.path.join(work, "token")], "agent.log")
    up = wait_for(lambda: len([v for v in (call(port, "GET", "/vms")[1] or {}).get("vms", [])
                               if v["present"]]) == 3, 20)
    check("dbavmd --dev is up with its three VMs", up)
    if not up:
        return
    # vm1 guaranteed 30 Mbit/s, vm2 20 Mbit/s and 1 kpps, vm3 nothing; vm1 capped at 1 kpps
    # (it sends 1.7 kpps: policy drops); all three send 20 Mbit/s of UDP, 1470-byte datagrams.
    slas = {"dbavm-vm1": {"priority": 1, "bandwidth": {"min_bps": 30000000, "max_bps": 60000000},
                          "packet_rate": {"max_pps": 1000}},
            "dbavm-vm2": {"priority": 1, "bandwidth": {"min_bps": 20000000, "max_bps": 40000000},
                          "packet_rate": {"min_pps": 1000}},
            "dbavm-vm3": {"priority": 7, "bandwidth": {"max_bps": 50000000}}}
    for vm, sla in slas.items():
        status, _ = call(port, "PUT", "/vms/%s/sla" % vm, sla, token)
        check("PUT %s's SLA" % vm, status in (200, 201), status)

    rules = os.path.join(work, "rules.yml")
    shutil.copy(RULES, rules)
    prom_port = free_port()
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "rule_files: [%s]\nscrape_configs:\n  - job_name: dbavm\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % (rules, port))
    start(["timeout", "120", "prometheus", "--config.file=" + os.path.join(work, "prometheus.yml"),
           "--storage.tsdb.path=" + os.path.join(work, "tsdb"),
           "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"], "prom.log")

    for i in (1, 2, 3):
        start(["ip", "netns", "exec", "dbavm-sink", "timeout", "40", "iperf3", "-s", "-1", "-p",
               "531%d" % i], "srv%d.log" % i)
    check("the sink's iperf3 servers listen", wait_for(lambda: all(
        subprocess.run(["ip", "netns", "exec", "dbavm-sink", "ss", "-Hltn", "sport = :531%d" % i],
                       capture_output=True, text=True).stdout for i in (1, 2, 3)), 10))
    for i in (1, 2, 3):
        start(["ip", "netns", "exec", "dbavm-vm%d" % i, "timeout", "35", "iperf3", "-c",
               "198.18.0.254", "-p", "531%d" % i, "-u", "-b", "20M", "-t", "25"],
              "cli%d.log" % i)
    # Enough history for rates over a minute's rule and a few rate intervals.
    instance = "127.0.0.1:%d" % port
    ready = wait_for(lambda: prom_query_range(
        prom_port, 'dbavm_vm_jitter_seconds{instance="%s"}' % instance, 30)[0], 25, step=1)
    check("Prometheus holds the agent's series, delay and jitter included", ready)
    time.sleep(8)

    subst = {"$instance": "(%s)" % instance.replace(".", "\\\\."),
             "$vm": "(%s)" % "|".join(VMS), "$__rate_interval": "4s"}

    def grafana(expr):
        for k in sorted(subst, key=len, reverse=True):
            expr = expr.replace("${%s}" % k[1:], subst[k]).replace(k, subst[k])
        return expr

    # the variables: label_values(metric, label) is /api/v1/label/<label>/values?match[]=
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        inner, label = q[len("label_values("):-1].rsplit(",", 1)
        path = "/api/v1/label/%s/values?%s" % (label.strip(), urllib.parse.urlencode(
            {"match[]": grafana(inner.strip())}))
        status, doc = call(prom_port, "GET", path)
        values = (doc or {}).get("data", [])
        want = [instance] if v["name"] == "instance" else VMS
        check("variable $%s: %s -> %s" % (v["name"], q, values),
              status == 200 and sorted(values) == sorted(want), (status, doc))

    panels = []
    for p in dash["panels"]:
        panels.append(p)
        panels.extend(p.get("panels", []))
    n = 0
    for p in panels:
        for t in p.get("targets", []):
            n += 1
            expr = grafana(t["expr"])
            series, doc = prom_query_range(prom_port, expr, 20)
            check("%s / %s returns data (%s series)" % (p["title"], t["legendFormat"],
                                                         len(series or [])),
                  series, (expr, doc))
    check("every target was run (%d)" % n, n >= 20, n)

    # A few figures the panels will show, against what the agent was given.
    series, _ = prom_query_range(prom_port, grafana(
        '8 * dbavm_vm_sla_min_bytes_per_second{instance=~"$instance", vm=~"$vm"}'), 5)
    mins = {s["metric"]["vm"]: float(s["values"][-1][1]) for s in series or []}
    check("the SLA lines are the SLAs in bit/s",
          mins.get("dbavm-vm1") == 30e6 and mins.get("dbavm-vm2") == 20e6, mins)
    series, _ = prom_query_range(prom_port, grafana(
        'rate(dbavm_vm_lost_packets_total{instance=~"$instance", vm=~"$vm", cause="policy"}'
        '[$__rate_interval])'), 10)
    lost = {s["metric"]["vm"]: float(s["values"][-1][1]) for s in series or []}
    # vm2 is under its limits: at most 1 % of its 1.7 kpps (iperf3 behind on a loaded machine
    # catches up in bursts; the sanitizer pass once saw 2/s, and vm3 as many).
    check("loss by cause: vm1, 1.7 kpps against its 1 kpps, loses about 700/s to policy; vm2 "
          "under 1 % of what it sends",
          500 < lost.get("dbavm-vm1", 0) < 900 and lost.get("dbavm-vm2", 100) < 17, lost)
    agent.terminate()
    agent.wait(timeout=20)


run_test(main, work, procs)
