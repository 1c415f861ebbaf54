#!/usr/bin/python3
"""What following Neutron costs, at PORTS ports bound to the host (default 1,000): a real
neutron-server 21 with Keystone and Placement (tests/support/ostack.py), the agent on the
netns testbed under netfront (root, BPF, iperf3), polling every 2 s.

  bench_neutron.py DBAVMD TESTBED [PORTS] [CHANGES]

One port is the testbed VM 1's (its MAC), under a policy of its own; the others are under the
network's default policy, with MACs no vif has (their SLAs wait for them, as a port bound
before its VM boots). Prints:
1. what a poll costs neutron-server: the two list calls the agent makes (the host's ports
   with the fields it asks for; their policies), each timed 10 times from here;
2. the time from the agent's start to every port's SLA in force;
3. requests per minute the agent made to Neutron and Keystone, and the agent's CPU, over 30 s
   of polls with nothing changing;
4. CHANGES (default 20) changes of VM 1's egress limit (10 and 20 Mbit/s in turn, while it
   sends UDP at 30 Mbit/s), each timed from Neutron's answer to the change to the SLA in force
   (GET /ports/{mac}/sla) and to the limit enforced (the vif's limit at the new rate): median
   and p99 (the largest, at 20).
Everything it starts it stops by its PID; the testbed is removed on exit.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ostack import OpenStack  # noqa: E402
from testkit import free_port, stop, wait_for  # noqa: E402

DBAVMD, TESTBED = sys.argv[1], sys.argv[2]
PORTS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
CHANGES = int(sys.argv[4]) if len(sys.argv) > 4 else 20
HOST = "dbavm-bench-%s" % uuid.uuid4().hex[:6]
TOKEN = "s3cret0123456789"
work = tempfile.mkdtemp(prefix="dbavm-bench-neutron-")
procs = []


def call(port, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None


def cpu_s(pid):
    """CPU seconds of dbavmd: the child of the `timeout` that bounds it (pid)."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        pid = int(f.read().split()[0])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(os.path.join(work, "token"), 0o600)
    subprocess.run([TESTBED, "down"], capture_output=True)
    subprocess.run([TESTBED, "up", "1", "500mbit"], check=True, timeout=60)
    with OpenStack(neutron=True) as os_:
        nt = os_.neutron
        os_.placement("POST", "/resource_providers", {"name": HOST, "uuid": str(uuid.uuid4())})
        os_.neutron_agent(HOST, {"physnet1": "br-dbavm"})
        creds = os_.openrc(os.path.join(work, "openrc"))

        def policy(name, kbps):
            _, p = nt("POST", "/qos/policies", {"policy": {"name": name}})
            _, r = nt("POST", "/qos/policies/%s/bandwidth_limit_rules" % p["policy"]["id"],
                      {"bandwidth_limit_rule": {"max_kbps": kbps, "direction": "egress"}})
            return p["policy"]["id"], r["bandwidth_limit_rule"]["id"]
        p_net, _ = policy("net", 50000)
        p_vm, rule = policy("vm1", 10000)
        _, n = nt("POST", "/networks", {"network": {
            "name": "bench", "provider:network_type": "flat",
            "provider:physical_network": "physnet1", "qos_policy_id": p_net}})
        net = n["network"]["id"]
        t0 = time.monotonic()
        # Neutron's bulk create: 100 ports a request
        for base in range(0, PORTS - 1, 100):
            nt("POST", "/ports", {"ports": [
                {"network_id": net, "mac_address": "fa:16:3e:%02x:%02x:%02x" % (
                    (i >> 16) & 255, (i >> 8) & 255, i & 255), "device_owner": "compute:nova",
                 "device_id": str(uuid.uuid4()), "binding:host_id": HOST,
                 "port_security_enabled": False}
                for i in range(base, min(base + 100, PORTS - 1))]})
        print("%d ports created in neutron in %.1f s" % (PORTS - 1, time.monotonic() - t0),
              flush=True)

        port = free_port()
        t0 = time.monotonic()
        agent = subprocess.Popen(
            ["timeout", "1200", DBAVMD, "--platform", "netns", "--enforcer", "netfront",
             "--uplinks", "dbavm-up0:1000000000", "--host-pps", "1000000", "--period", "100",
             "--listen", "127.0.0.1:%d" % port, "--state-dir", os.path.join(work, "state"),
             "--token-file", os.path.join(work, "token"), "--os-credentials", creds,
             "--placement-host-name", HOST, "--neutron", "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "agent.log"), "w"))
        procs.append(agent)
        ports = wait_for(lambda: (call(port, "/ports")[1] or {}).get("ports"), 20)
        vm_mac = ports[0]["mac"]
        _, d = nt("POST", "/ports", {"port": {
            "network_id": net, "mac_address": vm_mac, "device_owner": "compute:nova",
            "device_id": str(uuid.uuid4()), "binding:host_id": HOST, "qos_policy_id": p_vm}})

        def in_force():
            nh = (call(port, "/host")[1] or {}).get("neutron") or {}
            return sum(p["state"] == "in_force" for p in nh.get("ports", [])) == PORTS
        ok = wait_for(in_force, 300, 0.2)
        print("all %d ports' SLAs in force %.1f s after the agent started%s" %
              (PORTS, time.monotonic() - t0, "" if ok else " (NOT ALL)"), flush=True)

        # ---- what a poll costs neutron-server ----
        q_ports = ("/ports?binding%%3Ahost_id=%s&fields=id&fields=mac_address"
                   "&fields=qos_policy_id&fields=qos_network_policy_id" % HOST)
        q_pol = "/qos/policies?id=%s&id=%s" % (p_net, p_vm)
        for what, q in (("ports list", q_ports), ("policies list", q_pol)):
            ts = []
            for _ in range(10):
                t = time.monotonic()
                nt("GET", q)
                ts.append((time.monotonic() - t) * 1000)
            print("neutron-server answers the %s in %.0f ms (median of 10; %.0f max)" %
                  (what, statistics.median(ts), max(ts)), flush=True)

        # ---- steady polling ----
        r0, c0, t = call(port, "/host")[1]["neutron"]["requests"], cpu_s(agent.pid), \
            time.monotonic()
        time.sleep(30)
        r1, c1, dt = call(port, "/host")[1]["neutron"]["requests"], cpu_s(agent.pid), \
            time.monotonic() - t
        print("steady: %.1f requests a minute to neutron and keystone; the agent's CPU %.2f %% "
              "of a core (its 100 ms periods included)" % ((r1 - r0) * 60 / dt,
                                                            (c1 - c0) * 100 / dt), flush=True)

        # ---- changes ----
        srv = subprocess.Popen(["ip", "netns", "exec", "dbavm-sink", "timeout", "200", "iperf3",
                                "-s", "-1", "-p", "5401"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        procs.append(srv)
        time.sleep(0.5)
        cli = subprocess.Popen(["ip", "netns", "exec", "dbavm-vm1", "timeout", "190", "iperf3",
                                "-c", "198.18.0.254", "-p", "5401", "-u", "-b", "30M", "-t",
                                "180"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(cli)
        time.sleep(2)
        to_sla, to_limit = [], []
        for k in range(CHANGES):
            kbps = 20000 if k % 2 == 0 else 10000
            nt("PUT", "/qos/policies/%s/bandwidth_limit_rules/%s" % (p_vm, rule),
               {"bandwidth_limit_rule": {"max_kbps": kbps}})
            t = time.monotonic()
            wait_for(lambda: ((call(port, "/ports/%s/sla" % vm_mac)[1] or {}).get("bandwidth")
                              or {}).get("max_bps") == kbps * 1000, 30, 0.02)
            to_sla.append(time.monotonic() - t)
            wait_for(lambda: ((((call(port, "/ports/%s" % vm_mac)[1] or {}).get("vif") or {})
                               .get("limit") or {}).get("bps") == kbps * 1000), 30, 0.02)
            to_limit.append(time.monotonic() - t)
            time.sleep(0.7)  # a change lands anywhere in the poll's 2 s
        print("%d changes: to the SLA in force median %.2f s, p99 %.2f s; to the limit "
              "enforced median %.2f s, p99 %.2f s" % (
                  CHANGES, statistics.median(to_sla), pct(to_sla, 0.99),
                  statistics.median(to_limit), pct(to_limit, 0.99)), flush=True)
        print("  to the limit (s): " + " ".join("%.2f" % x for x in to_limit), flush=True)


try:
    main()
finally:
    stop(procs)
    subprocess.run([TESTBED, "down"], capture_output=True)
    if not os.environ.get("DBAVM_KEEP"):
        import shutil
        shutil.rmtree(work, ignore_errors=True)
