#!/usr/bin/python3
"""dbavmd against a real Keystone and a real Placement (tests/support/ostack.py), on
loopback, with the sim platform (tests/support/data/placement.json: eth0 1 Gbit/s becoming 2 Gbit/s
at 20 s, eth1 500 Mbit/s, 190 kpps, three VMs with UUIDs).

  test_placement.py DBAVMD DATA_DIR

Checks, in order: usage errors (a credentials file open to others, --physnets without
credentials); the tree Nova's compute node gets (names, parents, uuid5 UUIDs computed here
independently, inventories with reserved, traits), found through Keystone's catalog; a
Nova-like allocation per VM UUID reported beside the SLA, a mismatch flagged in the API and the
metrics; the capacity change reaching the inventory; a provider, an inventory and a trait
changed or deleted behind the agent's back put right by the resync; a generation conflict
forced by a concurrent write (a proxy writes to Placement just before it forwards the agent's
inventory update), read again and retried; Placement taken away and brought back (no period
missed, /readyz and the metrics say it, the sync resumes); an application credential with
--placement-url, and its token revoked (Placement's 401 renews it once); HTTPS to Placement
verified against OS_CACERT, and a certificate from another CA refused; the first agent's
token renewed before it expires (Keystone's token lifetime here is 130 s: shorter, and
Placement's own middleware, which wants 120 s left, authenticates again on every request). Everything it starts it stops by its PID.
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import ostack  # noqa: E402
from ostack import OpenStack  # noqa: E402
from testkit import check, free_port, run_test, timing, wait_for  # noqa: E402

DBAVMD, DATA = sys.argv[1], sys.argv[2]
SCENARIO = os.path.join(DATA, "placement.json")
NS = uuid.UUID("a3b7f0e2-4c1d-4e8b-9f6a-0d2c5e7b1a93")  # PLACEMENT_UUID_NAMESPACE
VM1, VM2, VM3 = ("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5%d" % i for i in (1, 2, 3))
BW = "NET_BW_EGR_KILOBIT_PER_SEC"
PPS = "NET_PACKET_RATE_KILOPACKET_PER_SEC"  # direction-less: one budget serves both ways
PPS_OUT, PPS_IN = "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC"
# Every answer of the API is recorded here when set, for validation against openapi.yaml.
RECORD = os.environ.get("DBAVM_API_RECORD")
work = tempfile.mkdtemp(prefix="dbavm-placement-test-")
agents = []


class Agent:
    def __init__(self, name, args):
        self.port = free_port()
        self.log = os.path.join(work, name + ".log")
        state = os.path.join(work, name + "-state")
        os.makedirs(state, exist_ok=True)
        wrapper = os.environ.get("DBAVM_TEST_WRAPPER", "").split()
        # timeout bounds it, and passes our SIGTERM on to it
        self.proc = subprocess.Popen(
            ["timeout", "600"] + wrapper + [DBAVMD, "--platform", "sim", "--scenario", SCENARIO,
             "--listen", "127.0.0.1:%d" % self.port, "--state-dir", state] + args,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        agents.append(self)
        self.t0 = time.monotonic()

    def get(self, path):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            data = r.read().decode()
            c.close()
        except OSError:
            return 0, ""
        if RECORD and path != "/metrics":  # for openapi_placement_responses
            with open(RECORD, "a") as f:
                f.write(json.dumps({"method": "GET", "path": path, "status": r.status,
                                    "content_type": r.getheader("Content-Type"),
                                    "body": data}) + "\n")
        return r.status, data

    def json(self, path):
        st, data = self.get(path)
        return json.loads(data) if st in (200, 503) else None

    def placement(self):
        h = self.json("/host")
        return h and h.get("placement")

    def metrics(self):
        st, text = self.get("/metrics")
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # timeout passes SIGTERM on to the agent
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def usage(args, creds_mode=0o600):
    path = os.path.join(work, "creds-usage")
    with open(path, "w") as f:
        f.write("OS_AUTH_URL=http://127.0.0.1:1/v3\nOS_USERNAME=u\nOS_PASSWORD=p\n"
                "OS_PROJECT_NAME=x\n")
    os.chmod(path, creds_mode)
    r = subprocess.run(["timeout", "30", DBAVMD, "--platform", "sim", "--scenario", SCENARIO,
                        "--listen", "127.0.0.1:%d" % free_port(), "--state-dir",
                        os.path.join(work, "usage-state")] + [a.replace("CREDS", path) for a in args],
                       capture_output=True, text=True)
    return r.returncode, r.stderr


def main():
    # ---- usage: bad configuration is refused at start, exit 2, saying what ----
    os.makedirs(os.path.join(work, "usage-state"), exist_ok=True)
    rc, err = usage(["--os-credentials", "CREDS"], 0o644)
    check("a credentials file readable by others is refused", rc == 2 and "chmod 600" in err, err)
    rc, err = usage(["--physnets", "eth0=physnet1"])
    check("--physnets without --os-credentials is refused",
          rc == 2 and "--os-credentials" in err, err)
    rc, err = usage(["--os-credentials", "CREDS", "--placement-packet-rate", "12"])
    check("a packet rate split that is not E:I is refused",
          rc == 2 and "EGRESS:INGRESS" in err, err)
    rc, err = usage(["--neutron"])
    check("--neutron without --os-credentials is refused",
          rc == 2 and "--os-credentials" in err, err)
    rc, err = usage(["--neutron-poll", "5"])
    check("--neutron-poll without --neutron is refused", rc == 2 and "--neutron" in err, err)
    rc, err = usage(["--os-credentials", os.path.join(work, "absent")])
    check("a missing credentials file is refused", rc == 2 and "cannot open" in err, err)

    t_os = time.monotonic()
    with OpenStack(token_expiration=130) as os_:
        print("keystone and placement up in %.1f s" % (time.monotonic() - t_os), flush=True)
        host = "compute-%s" % uuid.uuid4().hex[:8]
        cn = str(uuid.uuid4())
        os_.placement("POST", "/resource_providers", {"name": host, "uuid": cn})  # as Nova
        creds = os_.openrc(os.path.join(work, "openrc"))
        a = Agent("agent", ["--os-credentials", creds, "--placement-host-name", host,
                            "--physnets", "eth0=physnet-a,eth1=Physnet_B",
                            "--placement-reserved-kbps", "10000",
                            "--placement-reserved-kpps", "5", "--placement-resync", "3"])

        # ---- the tree ----
        st = wait_for(lambda: (a.placement() or {}).get("in_sync"), 30)
        print("first sync after %.1f s" % (time.monotonic() - a.t0), flush=True)
        check("the first sync succeeds", st, a.placement())
        names = {"agent": host + ":dbavm", "eth0": host + ":dbavm:eth0",
                 "eth1": host + ":dbavm:eth1"}
        uu = {k: str(uuid.uuid5(NS, v)) for k, v in names.items()}
        _, tree = os_.placement("GET", "/resource_providers?in_tree=" + cn)
        by_uuid = {p["uuid"]: p for p in tree["resource_providers"]}
        check("the tree: compute node, the agent's provider and one per uplink",
              len(by_uuid) == 4 and all(u in by_uuid for u in uu.values()), list(by_uuid))
        check("providers named <host>:dbavm[:uplink] with uuid5 UUIDs",
              all(by_uuid.get(uu[k], {}).get("name") == names[k] for k in names))
        check("parents: compute node <- agent <- uplinks",
              by_uuid.get(uu["agent"], {}).get("parent_provider_uuid") == cn and
              by_uuid.get(uu["eth0"], {}).get("parent_provider_uuid") == uu["agent"] and
              by_uuid.get(uu["eth1"], {}).get("parent_provider_uuid") == uu["agent"])

        def inv(k):
            _, d = os_.placement("GET", "/resource_providers/%s/inventories" % uu[k])
            return d["inventories"]

        def traits(k):
            _, d = os_.placement("GET", "/resource_providers/%s/traits" % uu[k])
            return sorted(d["traits"])

        i = inv("agent")
        check("the agent's provider: 190 kpps either way (direction-less), 5 reserved",
              list(i) == [PPS] and i[PPS]["total"] == 190 and i[PPS]["reserved"] == 5, i)
        i0, i1 = inv("eth0"), inv("eth1")
        # (the sim's enforcers hold what VMs send only: no ingress inventory; the netns
        # testbed's netfront holds both, test_neutron.py)
        check("eth0: 1,000,000 kbit/s sent, 10,000 reserved, nothing of what VMs receive",
              list(i0) == [BW] and i0[BW]["total"] == 1000000 and i0[BW]["reserved"] == 10000,
              i0)
        check("eth1: 500,000 kbit/s", list(i1) == [BW] and i1[BW]["total"] == 500000, i1)
        check("traits: vnic type, and the physnet normalised",
              traits("eth0") == ["CUSTOM_PHYSNET_PHYSNET_A", "CUSTOM_VNIC_TYPE_NORMAL"] and
              traits("eth1") == ["CUSTOM_PHYSNET_PHYSNET_B", "CUSTOM_VNIC_TYPE_NORMAL"] and
              traits("agent") == ["CUSTOM_VNIC_TYPE_NORMAL"],
              (traits("eth0"), traits("eth1"), traits("agent")))
        check("found through the catalog (the proxy is its placement endpoint)",
              any(p.startswith("/resource_providers") for _, p in os_.proxy.seen))
        st, ready = a.get("/readyz")
        check("/readyz ready once in sync", st == 200, ready)

        # ---- allocations, as Nova makes them ----
        proj, user = uuid.uuid4().hex, uuid.uuid4().hex

        def allocate(consumer, rps):
            os_.placement("PUT", "/allocations/" + consumer, {
                "allocations": {uu[k]: {"resources": r} for k, r in rps.items()},
                "project_id": proj, "user_id": user, "consumer_generation": None})

        allocate(VM1, {"eth0": {BW: 100000}, "agent": {PPS: 10}})  # = its SLA's minimums
        allocate(VM2, {"eth1": {BW: 20000}})  # its SLA says 50 Mbit/s
        ok_ = wait_for(lambda: ((a.json("/vms/vm2") or {}).get("placement", {}).get("allocated")
                                or {}).get("bps"), 15)
        v1, v2, v3 = (a.json("/vms/" + v) for v in ("vm1", "vm2", "vm3"))
        check("vm1: allocation reported beside its SLA, no mismatch",
              v1["placement"] == {"allocated": {"bps": 100000000, "pps": 10000},
                                  "mismatch": False}, v1.get("placement"))
        check("vm2: 20 Mbit/s allocated for a 50 Mbit/s minimum is flagged",
              ok_ and v2["placement"] == {"allocated": {"bps": 20000000, "pps": 0},
                                          "mismatch": True}, v2.get("placement"))
        check("vm3: nothing allocated, nothing guaranteed, no mismatch",
              v3["placement"] == {"allocated": {"bps": 0, "pps": 0}, "mismatch": False},
              v3.get("placement"))
        m = a.metrics()
        check("metrics: per-VM allocation and mismatch",
              m.get('dbavm_vm_placement_allocated_bytes_per_second{vm="vm1"}') == 12500000 and
              m.get('dbavm_vm_placement_allocated_packets_per_second{vm="vm1"}') == 10000 and
              m.get('dbavm_vm_placement_mismatch{vm="vm2"}') == 1 and
              m.get('dbavm_vm_placement_mismatch{vm="vm1"}') == 0,
              {k: v for k, v in m.items() if "placement" in k})
        lst = a.json("/vms")
        check("GET /vms carries the same", any(
            x["id"] == "vm2" and x.get("placement", {}).get("mismatch") for x in lst["vms"]))

        # ---- the capacity change (scenario: eth0 to 2 Gbit/s at t = 20 s) ----
        wait_for(lambda: time.monotonic() - a.t0 >= 19.5, 30, 0.05)
        t_change = a.t0 + 20.0
        got = wait_for(lambda: inv("eth0")[BW]["total"] == 2000000, 15, 0.05)
        lag = time.monotonic() - t_change
        check("eth0's inventory follows its capacity (%.2f s after the change)" % lag, got,
              inv("eth0"))

        # ---- put right behind the agent's back (eth1, once Nova's allocation on it is gone) ----
        os_.placement("DELETE", "/allocations/" + VM2)
        _, d = os_.placement("GET", "/resource_providers/%s/inventories" % uu["eth1"])
        os_.placement("PUT", "/resource_providers/%s/inventories" % uu["eth1"], {
            "resource_provider_generation": d["resource_provider_generation"],
            "inventories": {BW: {"total": 7}}})
        _, d = os_.placement("GET", "/resource_providers/%s/traits" % uu["eth1"])
        os_.placement("PUT", "/resource_providers/%s/traits" % uu["eth1"], {
            "resource_provider_generation": d["resource_provider_generation"],
            "traits": ["CUSTOM_VNIC_TYPE_NORMAL"]})
        right = lambda: (inv("eth1").get(BW, {}).get("total") == 500000 and  # noqa: E731

                         traits("eth1") == ["CUSTOM_PHYSNET_PHYSNET_B",
                                            "CUSTOM_VNIC_TYPE_NORMAL"])
        check("an inventory and a trait changed behind its back: put right by the resync",
              wait_for(right, 15, 0.3), (inv("eth1"), traits("eth1")))
        os_.placement("DELETE", "/resource_providers/%s/inventories" % uu["eth1"])
        check("an inventory deleted: put right", wait_for(right, 15, 0.3), inv("eth1"))
        os_.placement("DELETE", "/resource_providers/" + uu["eth1"])
        ok_ = wait_for(lambda: os_.placement("GET", "/resource_providers/" + uu["eth1"],
                                             expect=None)[0] == 200 and right(), 15, 0.3)
        check("a provider deleted: made again, same UUID, parent, inventory and traits",
              ok_ and os_.placement("GET", "/resource_providers/" + uu["eth1"])[1]
              ["parent_provider_uuid"] == uu["agent"])

        # ---- a generation conflict: a concurrent writer gets in first ----
        fired = []

        def before(method, path):
            if method == "PUT" and path == "/resource_providers/%s/inventories" % uu["eth1"] \
                    and not fired:
                fired.append(1)
                _, d = os_.placement("GET", "/resource_providers/%s/inventories" % uu["eth1"])
                os_.placement("PUT", "/resource_providers/%s/inventories" % uu["eth1"], {
                    "resource_provider_generation": d["resource_provider_generation"],
                    "inventories": {BW: {"total": 11}}})
        c0 = a.metrics().get("dbavm_placement_generation_conflicts_total", 0)
        os_.proxy.before = before
        _, d = os_.placement("GET", "/resource_providers/%s/inventories" % uu["eth1"])
        os_.placement("PUT", "/resource_providers/%s/inventories" % uu["eth1"], {
            "resource_provider_generation": d["resource_provider_generation"],
            "inventories": {BW: {"total": 9}}})
        ok_ = wait_for(lambda: fired and inv("eth1")[BW]["total"] == 500000, 15, 0.2)
        os_.proxy.before = None
        m = a.metrics()
        check("a concurrent write: 409, read again, written (conflicts %d -> %d)" % (
              c0, m.get("dbavm_placement_generation_conflicts_total", 0)),
              ok_ and m.get("dbavm_placement_generation_conflicts_total", 0) > c0,
              (fired, inv("eth1")))

        # ---- placement away and back ----
        over0 = a.json("/host")["overruns"]
        tick0 = a.json("/host")["tick"]
        f0 = a.metrics()["dbavm_placement_sync_failures_total"]
        os_.proxy.stop()
        os_.stop_placement()
        down = wait_for(lambda: a.get("/readyz")[0] == 503, 15, 0.2)
        st, body = a.get("/readyz")
        check("placement down: /readyz says so", down and "placement:" in body, body)
        time.sleep(3)
        m = a.metrics()
        check("placement down: failures counted, not in sync",
              m["dbavm_placement_sync_failures_total"] > f0 and
              m["dbavm_placement_in_sync"] == 0, {k: v for k, v in m.items() if "sync" in k})
        last = m["dbavm_placement_last_success_timestamp_seconds"]
        os_.start_placement(first=False)
        os_.proxy.start()
        back = wait_for(lambda: (a.placement() or {}).get("in_sync"), 40, 0.2)
        h = a.json("/host")
        m = a.metrics()
        check("placement back: in sync again, last success moved on",
              back and m["dbavm_placement_last_success_timestamp_seconds"] > last)
        check("placement back: /readyz ready", a.get("/readyz")[0] == 200)
        timing("no period missed while placement was away (overruns %d -> %d, %d ticks)" % (
            over0, h["overruns"], h["tick"] - tick0), h["overruns"] == over0 and
            h["tick"] > tick0)

        # ---- an application credential, --placement-url; a revoked token (401) ----
        ut = os_.token("dbavm2", "dbavm2-pw", "service")
        doc, _ = os_.ks("POST", "/users/%s/application_credentials" % os_.user_ids["dbavm2"],
                        {"application_credential": {"name": "dbavm-" + uuid.uuid4().hex[:6]}},
                        token=ut)
        ac = doc["application_credential"]
        host2, cn2 = host + "-b", str(uuid.uuid4())
        os_.placement("POST", "/resource_providers", {"name": host2, "uuid": cn2})
        creds2 = os_.openrc(os.path.join(work, "openrc-appcred"), (ac["id"], ac["secret"]))
        # (dbavm2: revoking its tokens leaves the first agent's, dbavm's, alone)
        b = Agent("agent-b", ["--os-credentials", creds2, "--placement-host-name", host2,
                              "--placement-url", "http://127.0.0.1:%d" % os_.pl_port,
                              "--placement-resync", "2", "--placement-packet-rate", "120:70"])
        ok_ = wait_for(lambda: (b.placement() or {}).get("last_success"), 30)
        _, tree = os_.placement("GET", "/resource_providers?in_tree=" + cn2)
        check("an application credential and --placement-url: the second host's tree",
              ok_ and len(tree["resource_providers"]) == 4, b.placement())
        _, d = os_.placement("GET", "/resource_providers/%s/inventories" %
                             uuid.uuid5(NS, host2 + ":dbavm"))
        ib = d["inventories"]
        check("--placement-packet-rate 120:70: a packet rate inventory each way",
              sorted(ib) == [PPS_OUT, PPS_IN] and ib[PPS_OUT]["total"] == 120 and
              ib[PPS_IN]["total"] == 70, ib)
        f0 = b.metrics()["dbavm_placement_sync_failures_total"]
        t0 = b.metrics()["dbavm_placement_tokens_total"]
        os_.revoke_tokens("dbavm2")  # the application credential's tokens are its user's
        ok_ = wait_for(lambda: b.metrics()["dbavm_placement_tokens_total"] > t0, 25, 0.2)
        with open(b.log) as f:
            log = f.read()
        check("a revoked token: Placement's 401 renews it once, no sync fails",
              ok_ and "placement said 401" in log and "why=401" in log and
              b.metrics()["dbavm_placement_sync_failures_total"] == f0,
              (b.metrics()["dbavm_placement_sync_failures_total"], f0))

        # ---- HTTPS to Placement: the CA from OS_CACERT, and another CA refused ----
        ca, crt, key = ostack.make_ca(work, "good")
        other_ca, _, _ = ostack.make_ca(work, "other")
        tls = ostack.Proxy(os_.pl_port, tls=(crt, key))
        try:
            host3, cn3 = host + "-c", str(uuid.uuid4())
            os_.placement("POST", "/resource_providers", {"name": host3, "uuid": cn3})
            c = Agent("agent-c", ["--os-credentials",
                                  os_.openrc(os.path.join(work, "openrc-tls"), cacert=ca),
                                  "--placement-host-name", host3,
                                  "--placement-url", "https://127.0.0.1:%d" % tls.port])
            d = Agent("agent-d", ["--os-credentials",
                                  os_.openrc(os.path.join(work, "openrc-other"),
                                             cacert=other_ca),
                                  "--placement-host-name", host3 + "-d",
                                  "--placement-url", "https://127.0.0.1:%d" % tls.port])
            ok_ = wait_for(lambda: (c.placement() or {}).get("last_success"), 30)
            _, tree = os_.placement("GET", "/resource_providers?in_tree=" + cn3)
            check("HTTPS to Placement, verified with OS_CACERT",
                  ok_ and len(tree["resource_providers"]) == 4 and
                  any(m == "PUT" for m, _ in tls.seen), c.placement())
            prob = wait_for(lambda: ((d.placement() or {}).get("problem") or "")
                            if (d.placement() or {}).get("sync_failures") else "", 30)
            check("a server certificate from another CA is refused, and /readyz says why",
                  "certificate" in prob.lower() and "placement:" in d.get("/readyz")[1], prob)
            for x in (c, d):
                check("agent %s stops cleanly" % os.path.basename(x.log), x.stop() == 0)
        finally:
            tls.stop()

        # ---- agent a's token renewed before it expires (130 s tokens, renewed at 97.5 s) ----
        wait_for(lambda: time.monotonic() - a.t0 > 105, 120, 0.5)
        with open(a.log) as f:
            log = f.read()
        m = a.metrics()
        check("a token renewed before it expired, never refused (%d tokens in %.0f s)" % (
              m["dbavm_placement_tokens_total"], time.monotonic() - a.t0),
              "why=expiring" in log and "why=401" not in log and
              m["dbavm_placement_tokens_total"] >= 2, log[-2000:])
        for x in (a, b):
            rc = x.stop()
            check("agent %s stops cleanly" % x.log, rc == 0, rc)


run_test(main, work, cleanup=lambda: [x.stop() for x in agents])
