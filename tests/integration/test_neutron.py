#!/usr/bin/python3
"""dbavmd following a real neutron-server (Debian's neutron 21, with the real Keystone and
Placement of tests/support/ostack.py), on the netns testbed (root, BPF, iperf3), under
netfront. Neutron is driven through its own REST API as an operator drives it: a flat network
on physnet1 with a default QoS policy, ports bound to this host (binding:host_id) with the MAC
addresses of the testbed's VMs, policies on the port and on the network.

  test_neutron.py DBAVMD TESTBED

Checks: each port's effective policy in force as its SLA (source: neutron, the policy's id and
revision, Neutron's port id), the port's own before its network's; each held within 5 % by UDP
at three times its limit, egress and ingress; a rule changed, a policy moved from the network
to the port, a port deleted: each in force within 10 s (measured from Neutron's answer to the
change, printed); a PUT or DELETE by hand on a port Neutron manages refused (409); a policy
whose guarantee does not fit refused, listed with its reason, the port's SLA left as it was;
neutron-server stopped: /readyz says why and since when, the SLAs stay, dbavmd restarted
meanwhile keeps them (the store), and both recover by themselves when Neutron is back. The
requests per minute dbavmd made to Neutron are printed. Everything it starts it stops by its
PID; the testbed is removed on exit.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ostack import OpenStack  # noqa: E402
from testkit import check, free_port, run_test, timing, wait_for  # noqa: E402

DBAVMD, TESTBED = sys.argv[1], sys.argv[2]
DBAVMCTL = os.path.join(os.path.dirname(DBAVMD), "dbavmctl")
work = tempfile.mkdtemp(prefix="dbavm-neutron-test-")
procs = []
TOKEN = "s3cret0123456789"
HOST = "dbavm-nt-%s" % uuid.uuid4().hex[:6]
PAYLOAD = 1400  # UDP payload: 1442-byte frames on the wire
NS = uuid.UUID("a3b7f0e2-4c1d-4e8b-9f6a-0d2c5e7b1a93")  # the agent's provider UUIDs' namespace
RP_AGENT, RP_UPLINK = (str(uuid.uuid5(NS, HOST + x)) for x in (":dbavm", ":dbavm:dbavm-up0"))
BW_OUT, BW_IN = "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC"
PPS_ANY = "NET_PACKET_RATE_KILOPACKET_PER_SEC"
PPS_OUT, PPS_IN = "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC"
# Every answer of the API is recorded here when set, for validation against openapi.yaml.
RECORD = os.environ.get("DBAVM_API_RECORD")


class Agent:
    """dbavmd on the testbed, following Neutron, bounded by `timeout`."""

    def __init__(self, creds, tag, extra=()):
        self.port = free_port()
        self.t0 = time.monotonic()
        self.log = open(os.path.join(work, tag + ".log"), "w+")
        self.proc = subprocess.Popen(
            ["timeout", "600", DBAVMD, "--platform", "netns", "--enforcer", "netfront",
             "--uplinks", "dbavm-up0:200000000", "--host-pps", "400000", "--period", "100",
             "--listen", "127.0.0.1:%d" % self.port, "--state-dir", os.path.join(work, "state"),
             "--token-file", os.path.join(work, "token"), "--os-credentials", creds,
             "--placement-host-name", HOST, "--physnets", "dbavm-up0=physnet1", "--neutron",
             "--neutron-poll", "2"] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        procs.append(self.proc)

    def call(self, method, path, body=None):
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                st, ctype, data = r.status, r.getheader("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            st, ctype, data = e.code, e.headers.get("Content-Type"), e.read()
        except OSError as e:
            return 0, str(e)
        if RECORD:  # for openapi_responses
            with open(RECORD, "a") as f:
                f.write(json.dumps({"method": method, "path": path, "status": st,
                                    "content_type": ctype, "body": data.decode()}) + "\n")
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data

    def sla(self, mac):
        st, doc = self.call("GET", "/ports/%s/sla" % mac)
        return doc if st == 200 else None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def udp_rate(i, way, bps, seconds=6):
    """UDP at bps from VM i to the sink (egress) or the sink to VM i (ingress): the median of
    the receiver's per-second rates from second 2 on, as frames on the wire (bit/s)."""
    srv, cli, to = (("dbavm-sink", "dbavm-vm%d" % i, "198.18.0.254") if way == "egress"
                    else ("dbavm-vm%d" % i, "dbavm-sink", "198.18.0.%d" % i))
    port = str(5300 + i)
    s = subprocess.Popen(["ip", "netns", "exec", srv, "timeout", str(seconds + 20), "iperf3",
                          "-s", "-1", "-J", "-p", port], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    procs.append(s)
    time.sleep(0.5)
    r = subprocess.run(["ip", "netns", "exec", cli, "timeout", str(seconds + 15), "iperf3", "-c",
                        to, "-p", port, "-u", "-b", str(bps), "-l", str(PAYLOAD), "-t",
                        str(seconds), "-J", "--get-server-output"],
                       capture_output=True, text=True)
    s.wait(30)
    try:
        iv = json.loads(r.stdout)["server_output_json"]["intervals"]
    except (ValueError, KeyError, TypeError):
        return None
    rates = sorted(x["sum"]["bits_per_second"] * (PAYLOAD + 42) / PAYLOAD for x in iv
                   if x["sum"]["start"] >= 1.99 and x["sum"]["seconds"] >= 0.5)
    return (rates[(len(rates) - 1) // 2] + rates[len(rates) // 2]) / 2 if rates else None


def held(what, got, limit):
    check("%s held within 5 %% of %.1f Mbit/s (%.3f)" % (what, limit / 1e6,
                                                          (got or 0) / 1e6),
          got is not None and abs(got - limit) <= 0.05 * limit, got)


def in_force_within(what, t0, pred, limit_s=10):
    """Waits for pred; prints and checks the time from t0 (Neutron's answer to the change)."""
    ok = wait_for(pred, 30, 0.05)
    dt = time.monotonic() - t0
    print("%s: in force after %.2f s" % (what, dt), flush=True)
    timing("%s in force within %d s" % (what, limit_s), ok and dt <= limit_s, dt)
    return dt


def candidates(os_, port_id):
    """What Nova asks Placement for the port: Neutron's resource_request as request groups
    (each group's id its suffix, same_subtree as given; microversion 1.37 >= Nova's 1.36),
    GET /allocation_candidates; the list of (suffix -> provider UUID) mappings."""
    _, p = os_.neutron("GET", "/ports/%s" % port_id)
    rr = p["port"]["resource_request"]
    q = []
    for g in rr["request_groups"]:
        q.append("resources%s=%s" % (g["id"], ",".join(
            "%s:%d" % kv for kv in sorted(g["resources"].items()))))
        if g.get("required"):
            q.append("required%s=%s" % (g["id"], ",".join(g["required"])))
    if len(rr["request_groups"]) > 1:
        q.append("group_policy=none")
    if rr.get("same_subtree"):
        q.append("same_subtree=" + ",".join(rr["same_subtree"]))
    _, ac = os_.placement("GET", "/allocation_candidates?" + "&".join(q))
    return rr, [{k: v[0] for k, v in r["mappings"].items()}
                for r in ac["allocation_requests"]]


def main():
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(os.path.join(work, "token"), 0o600)
    subprocess.run([TESTBED, "down"], capture_output=True)
    subprocess.run([TESTBED, "up", "3", "500mbit"], check=True, timeout=60)

    t_os = time.monotonic()
    with OpenStack(neutron=True) as os_:
        print("keystone, placement and neutron up in %.1f s" % (time.monotonic() - t_os),
              flush=True)
        nt = os_.neutron
        os_.placement("POST", "/resource_providers", {"name": HOST, "uuid": str(uuid.uuid4())})
        os_.neutron_agent(HOST, {"physnet1": "br-dbavm"})
        creds = os_.openrc(os.path.join(work, "openrc"))

        def policy(name, rules):
            _, p = nt("POST", "/qos/policies", {"policy": {"name": name}})
            pid = p["policy"]["id"]
            for kind, rule in rules:
                nt("POST", "/qos/policies/%s/%s_rules" % (pid, kind), {kind + "_rule": rule})
            return pid

        # the port's own: 10 Mbit/s out, 8 in; the network's default: 20 out
        p_port = policy("vm1", [("bandwidth_limit", {"max_kbps": 10000, "direction": "egress"}),
                                ("bandwidth_limit", {"max_kbps": 8000,
                                                     "direction": "ingress"})])
        p_net = policy("net", [("bandwidth_limit", {"max_kbps": 20000, "direction": "egress"})])
        # a guarantee no 200 Mbit/s uplink holds (minimum rules are made before the policy is
        # on a port: Neutron refuses them after)
        p_big = policy("big", [("minimum_bandwidth", {"min_kbps": 400000,
                                                      "direction": "egress"})])
        _, n = nt("POST", "/networks", {"network": {
            "name": "dbavm-net", "provider:network_type": "flat",
            "provider:physical_network": "physnet1", "qos_policy_id": p_net}})
        net = n["network"]["id"]
        nt("POST", "/subnets", {"subnet": {"network_id": net, "cidr": "198.18.0.0/24",
                                           "ip_version": 4}})

        a = Agent(creds, "agent")
        def n_ports():
            st, doc = a.call("GET", "/ports")
            return st == 200 and len(doc.get("ports", [])) == 3
        check("dbavmd starts and lists the testbed's three vifs", wait_for(n_ports, 20),
              a.call("GET", "/ports"))
        macs = {}
        for p in a.call("GET", "/ports")[1]["ports"]:
            m = re.search(r"(\d+)$", p.get("vm") or "")
            macs[int(m.group(1)) if m else 0] = p["mac"]
        check("each VM's vif has a MAC", sorted(macs) == [1, 2, 3], macs)

        def port(i, **kw):
            body = {"network_id": net, "mac_address": macs[i], "device_owner": "compute:nova",
                    "device_id": str(uuid.uuid4()), "binding:host_id": HOST}
            body.update(kw)
            _, doc = nt("POST", "/ports", {"port": body})
            check("neutron binds port %d to %s" % (i, HOST),
                  doc["port"]["binding:vif_type"] == "ovs", doc["port"]["binding:vif_type"])
            return doc["port"]["id"]

        t0 = time.monotonic()
        port1 = port(1, qos_policy_id=p_port)
        port2 = port(2)

        def source(i):
            return (a.sla(macs[i]) or {}).get("source") or {}
        in_force_within("two new ports' policies", t0, lambda: source(1).get("policy_id") ==
                        p_port and source(2).get("policy_id") == p_net)
        s1, s2 = a.sla(macs[1]), a.sla(macs[2])
        check("port 1 holds its own policy: 10 Mbit/s out, 8 in, Neutron's default burst",
              s1["bandwidth"]["max_bps"] == 10000000 and
              s1["ingress"]["bandwidth"]["max_bps"] == 8000000 and
              s1["bandwidth"].get("burst_bits") == 8000000, s1)
        check("its source: neutron, the policy's revision, Neutron's port id",
              s1["source"]["from"] == "neutron" and s1["source"]["port_id"] == port1 and
              s1["source"]["policy_revision"] >= 1, s1["source"])
        check("port 2 (no policy of its own) holds its network's: 20 Mbit/s out",
              s2["bandwidth"]["max_bps"] == 20000000 and "ingress" not in s2, s2)
        st, h = a.call("GET", "/host")
        nh = h.get("neutron", {})
        check("GET /host says whom it follows and each port's state",
              nh.get("host") == HOST and nh.get("problem") is None and
              sorted((p["mac"], p["state"], p["policy_of"]) for p in nh.get("ports", [])) ==
              sorted([(macs[1], "in_force", "port"), (macs[2], "in_force", "network")]), nh)

        metrics = a.call("GET", "/metrics")[1].decode()
        check("/metrics labels each port SLA with its source, policy and revision",
              'dbavm_port_sla_info{port="%s",source="neutron",policy_id="%s",'
              'policy_revision="%d",neutron_port="%s"} 1' % (
                  macs[1], p_port, s1["source"]["policy_revision"], port1) in metrics and
              'dbavm_neutron_up 1' in metrics and
              'dbavm_neutron_ports{state="in_force"} 2' in metrics,
              [x for x in metrics.splitlines() if "neutron" in x and "#" not in x])
        def ctl(*args):
            r = subprocess.run([DBAVMCTL, "--url", "http://127.0.0.1:%d" % a.port,
                                "--token-file", os.path.join(work, "token")] + list(args),
                               capture_output=True, text=True, timeout=20)
            return r.stdout + r.stderr
        out = ctl("port", "get", macs[1])
        check("dbavmctl port get says the SLA is Neutron's, which policy and revision",
              "set by neutron: QoS policy %s, revision %d, for its port %s" % (
                  p_port, s1["source"]["policy_revision"], port1) in out, out)
        out = ctl("ports")
        check("dbavmctl ports shows the SLA as neutron's",
              re.search(r"%s .* neutron " % re.escape(macs[1]), out) is not None, out)
        out = ctl("host")
        check("dbavmctl host says whom it follows and how",
              "neutron: host %s at http://127.0.0.1:" % HOST in out and
              "2 ports, 2 under their policy, 0 refused" in out, out)
        held("port 1's egress (UDP at 30 Mbit/s)", udp_rate(1, "egress", 30000000), 10000000)
        held("port 1's ingress (UDP at 24 Mbit/s)", udp_rate(1, "ingress", 24000000), 8000000)
        held("port 2's egress, its network's policy (UDP at 60 Mbit/s)",
             udp_rate(2, "egress", 60000000), 20000000)

        # ---- by hand, on a port Neutron manages ----
        st, doc = a.call("PUT", "/ports/%s/sla" % macs[1],
                         {"priority": 1, "bandwidth": {"max_bps": 50000000}})
        check("a PUT by hand on a Neutron port is 409, naming the policy",
              st == 409 and p_port in json.dumps(doc), (st, doc))
        st, doc = a.call("DELETE", "/ports/%s/sla" % port1)
        check("... and a DELETE by Neutron's port id too", st == 409, (st, doc))
        st, doc = a.call("PUT", "/ports/%s/sla" % macs[3],
                         {"priority": 1, "bandwidth": {"max_bps": 5000000},
                          "source": {"from": "neutron", "policy_id": p_port, "port_id": port1,
                                     "policy_revision": 1}})
        check("a PUT that claims Neutron as its source is 400", st == 400, (st, doc))

        # ---- changes ----
        _, rules = nt("GET", "/qos/policies/%s/bandwidth_limit_rules" % p_port)
        egress_rule = [r for r in rules["bandwidth_limit_rules"]
                       if r["direction"] == "egress"][0]["id"]
        nt("PUT", "/qos/policies/%s/bandwidth_limit_rules/%s" % (p_port, egress_rule),
           {"bandwidth_limit_rule": {"max_kbps": 5000}})
        t0 = time.monotonic()
        in_force_within("a rule changed", t0,
                        lambda: (a.sla(macs[1]) or {}).get("bandwidth", {}).get("max_bps") ==
                        5000000)
        held("port 1's egress after the change", udp_rate(1, "egress", 15000000), 5000000)

        # the network's policy moved onto port 2 itself, the network left without one
        nt("PUT", "/ports/%s" % port2, {"port": {"qos_policy_id": p_net}})
        nt("PUT", "/networks/%s" % net, {"network": {"qos_policy_id": None}})
        t0 = time.monotonic()
        in_force_within("a policy moved from the network to the port", t0, lambda: any(
            p["mac"] == macs[2] and p["policy_of"] == "port" and p["state"] == "in_force"
            for p in a.call("GET", "/host")[1]["neutron"]["ports"]))
        check("port 2 still holds 20 Mbit/s, now its own policy's",
              (a.sla(macs[2]) or {}).get("bandwidth", {}).get("max_bps") == 20000000,
              a.sla(macs[2]))

        # ---- a guarantee that does not fit ----
        port3 = port(3, qos_policy_id=p_big)

        def refused3():
            for p in a.call("GET", "/host")[1]["neutron"]["ports"]:
                if p["mac"] == macs[3]:
                    return p if p["state"] == "refused" else None
        r3 = wait_for(refused3, 15) and refused3()
        check("a port whose guarantee does not fit is listed refused, with why",
              r3 and "min_bps 400000000 exceeds" in r3.get("why", ""), r3)
        check("... and has no SLA from it", a.sla(macs[3]) is None, a.sla(macs[3]))
        st, rz = a.call("GET", "/readyz")
        check("a refused port does not take the host out of service", st == 200, rz)
        out = ctl("host")
        check("dbavmctl host lists the refused port and why",
              "refused: port %s (%s): min_bps 400000000 exceeds" % (port3, macs[3]) in out, out)

        # ---- scheduling, as Nova does it ----
        def inventory(rp):
            _, d = os_.placement("GET", "/resource_providers/%s/inventories" % rp)
            return d["inventories"]
        check("Placement: the uplink's bandwidth each way (netfront holds both), the host's "
              "packet rate direction-less",
              wait_for(lambda: sorted(inventory(RP_UPLINK)) == [BW_OUT, BW_IN] and
                       list(inventory(RP_AGENT)) == [PPS_ANY], 20),
              (inventory(RP_UPLINK), inventory(RP_AGENT)))
        p_min = policy("min", [
            ("minimum_bandwidth", {"min_kbps": 10000, "direction": "egress"}),
            ("minimum_bandwidth", {"min_kbps": 10000, "direction": "ingress"}),
            ("minimum_packet_rate", {"min_kpps": 10, "direction": "any"})])
        _, d = nt("POST", "/ports", {"port": {"network_id": net, "qos_policy_id": p_min}})
        unbound = d["port"]["id"]
        rr, cands = candidates(os_, unbound)
        groups = {tuple(sorted(g["resources"])): g["id"] for g in rr["request_groups"]}
        bw_g, pps_g = groups.get((BW_OUT, BW_IN)), groups.get((PPS_ANY,))
        check("Neutron's resource_request: bandwidth both ways and a direction-less packet "
              "rate", bw_g and pps_g, rr)
        check("Placement's candidates for it: the uplink for the bandwidth, the host's "
              "provider for the packets",
              {bw_g: RP_UPLINK, pps_g: RP_AGENT} in cands, cands)
        # the host's guarantees full: Nova's allocations take what is left of what VMs send
        free_kbps = inventory(RP_UPLINK)[BW_OUT]["total"] - inventory(RP_UPLINK)[BW_OUT][
            "reserved"]
        _, usages = os_.placement("GET", "/resource_providers/%s/usages" % RP_UPLINK)
        filler = str(uuid.uuid4())
        os_.placement("PUT", "/allocations/" + filler, {
            "allocations": {RP_UPLINK: {"resources": {
                BW_OUT: free_kbps - usages["usages"].get(BW_OUT, 0) - 5000}}},
            "project_id": uuid.uuid4().hex, "user_id": uuid.uuid4().hex,
            "consumer_generation": None})
        _, cands = candidates(os_, unbound)
        check("no candidate once what the uplink guarantees is full", cands == [], cands)
        os_.placement("DELETE", "/allocations/" + filler)

        # ---- a port deleted ----
        nt("DELETE", "/ports/%s" % port1)
        t0 = time.monotonic()
        in_force_within("a port deleted", t0, lambda: a.sla(macs[1]) is None)

        # ---- the cost on neutron-server ----
        st, h = a.call("GET", "/host")
        nh = h["neutron"]
        elapsed = time.monotonic() - a.t0
        print("requests to neutron and keystone: %d in %.0f s (%.1f a minute), %d polls" %
              (nh["requests"], elapsed, nh["requests"] * 60 / elapsed, nh["polls"]), flush=True)
        check("at most two requests a poll (ports, policies) and a token",
              nh["requests"] <= 2 * nh["polls"] + 2 + nh["failures"] * 2, nh)

        # ---- neutron away ----
        os_.stop_neutron()
        t_down = time.time()

        def not_ready():
            st, doc = a.call("GET", "/readyz")
            return st == 503 and any("neutron" in p for p in doc.get("problems", []))
        check("neutron stopped: /readyz says so within 10 s", wait_for(not_ready, 10),
              a.call("GET", "/readyz"))
        st, doc = a.call("GET", "/readyz")
        metrics = a.call("GET", "/metrics")[1].decode()
        check("... and /metrics: dbavm_neutron_up 0, and since when",
              "dbavm_neutron_up 0" in metrics and re.search(
                  r"dbavm_neutron_problem_since_timestamp_seconds [1-9]", metrics),
              [x for x in metrics.splitlines() if "neutron" in x and "#" not in x])
        check("... and since when", any(re.search(r"since \d{4}-\d\d-\d\dT", p)
                                         for p in doc.get("problems", [])), doc)
        check("the SLAs in force stay", (a.sla(macs[2]) or {}).get("bandwidth", {})
              .get("max_bps") == 20000000, a.sla(macs[2]))
        a.stop()
        a = Agent(creds, "agent2")
        check("dbavmd restarted while neutron is away keeps Neutron's SLAs (the store)",
              wait_for(lambda: a.sla(macs[2]) is not None, 20) and
              a.sla(macs[2])["source"]["policy_id"] == p_net, a.sla(macs[2]))
        check("... and says why it is not ready", wait_for(not_ready, 10),
              a.call("GET", "/readyz"))
        held("port 2's egress while neutron is away", udp_rate(2, "egress", 60000000),
             20000000)
        os_.start_neutron(first=False)
        check("neutron back: ready again by itself",
              wait_for(lambda: a.call("GET", "/readyz")[0] == 200, 30),
              a.call("GET", "/readyz"))
        print("neutron away for %.0f s" % (time.time() - t_down), flush=True)

        # ---- the packet rate per direction, as Neutron's ..._with_direction ----
        a.stop()
        a = Agent(creds, "agent3", ["--placement-packet-rate", "150:100",
                                    "--neutron-unmanaged", port2.upper()])

        # ---- a port taken out of Neutron's hands ----
        def unmanaged():
            st, h = a.call("GET", "/host")
            for p in (h if st == 200 else {}).get("neutron", {}).get("ports", []):
                if p["port_id"] == port2:
                    return p["state"] == "unmanaged"
        check("--neutron-unmanaged: the port is listed unmanaged and Neutron's SLA goes",
              wait_for(lambda: unmanaged() and a.sla(macs[2]) is None, 20),
              (a.call("GET", "/host")[1].get("neutron"), a.sla(macs[2])))
        st, doc = a.call("PUT", "/ports/%s/sla" % macs[2],
                         {"priority": 2, "bandwidth": {"max_bps": 30000000}})
        check("... and a PUT by hand on it is taken", st == 201, (st, doc))
        time.sleep(4.5)  # two polls
        check("... and stays", (a.sla(macs[2]) or {}).get("bandwidth", {}).get("max_bps") ==
              30000000 and "source" not in a.sla(macs[2]), a.sla(macs[2]))
        check("--placement-packet-rate 150:100: the host's packet rate each way",
              wait_for(lambda: inventory(RP_AGENT).get(PPS_OUT, {}).get("total") == 150 and
                       inventory(RP_AGENT).get(PPS_IN, {}).get("total") == 100, 30),
              inventory(RP_AGENT))
        for way, rc in (("egress", PPS_OUT), ("ingress", PPS_IN)):
            pol = policy("pps-" + way, [("minimum_packet_rate", {"min_kpps": 20,
                                                                  "direction": way})])
            _, d = nt("POST", "/ports", {"port": {"network_id": net, "qos_policy_id": pol}})
            rr, cands = candidates(os_, d["port"]["id"])
            g = [x["id"] for x in rr["request_groups"] if rc in x["resources"]]
            check("a minimum_packet_rate %s port: its candidate is the host's provider" % way,
                  g and {g[0]: RP_AGENT} in cands, (rr, cands))
        a.stop()
        check("dbavmd stops cleanly (exit 0)", a.proc.returncode == 0, a.proc.returncode)


run_test(main, work, procs, cleanup=lambda: subprocess.run([TESTBED, "down"],
                                                           capture_output=True))
