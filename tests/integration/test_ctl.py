#!/usr/bin/python3
"""dbavmctl against a real dbavmd (sim platform, loopback): every command, human units
accepted and refused, the agent found from its configuration file, its token, HTTPS with a
client certificate, and `top` in a real terminal (tmux) with its screen captured.

  test_ctl.py DBAVMCTL DBAVMD

The host: two 1 Gbit/s uplinks. On eth0 vm1 is guaranteed 900 Mbit/s and vm2 600 (over-
committed: each gets its share, a third short); on eth1 vm3 has no guarantee and vm4 has 2
Gbit/s and offers 2 (half short). The others offer 1 Gbit/s. Everything it
starts it stops by its PID; tmux runs on a socket of its own.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, wait_for  # noqa: E402

import ostack  # noqa: E402  (make_ca: openssl certificates for 127.0.0.1)

CTL, DBAVMD = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="dbavm-ctl-test-")
procs = []
TMUX = ["tmux", "-L", "dbavm-ctl-test-%d" % os.getpid(), "-f", "/dev/null"]


def ctl(*args, env=None):
    """dbavmctl's exit code, stdout and stderr. No /etc/dbavm here: -c or --url always."""
    e = dict(os.environ, **(env or {}))
    r = subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=30, env=e)
    return r.returncode, r.stdout, r.stderr


def start_agent(name, extra, scenario):
    port = free_port()
    log = open(os.path.join(work, name + ".log"), "w")
    agent = subprocess.Popen(["timeout", "300", DBAVMD, "--platform", "sim", "--scenario",
                              scenario, "--listen", "127.0.0.1:%d" % port, "--state-dir",
                              os.path.join(work, name + "-state")] + extra,
                             stdout=subprocess.DEVNULL, stderr=log)
    procs.append(agent)
    return agent, port


def write(name, text, mode=0o600):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def sla_of(url, vm):
    rc, out, err = ctl("--url", url, "--json", "sla", "get", vm)
    return json.loads(out) if rc == 0 else None


def main():
    demand = [{"t_ms": 0, "bps": 1000000000, "frame_bytes": 1500}]
    scenario = write("overcommitted.json", json.dumps(
        {"uplinks": [{"name": "eth0", "capacity_bps": 1000000000},
                     {"name": "eth1", "capacity_bps": 1000000000}], "vms": [
            {"id": "vm1", "sla": {"priority": 1, "bandwidth": {"min_bps": 900000000}},
             "vifs": [{"id": "vif1.0", "uplink": "eth0", "demand": demand}]},
            {"id": "vm2", "sla": {"priority": 1, "bandwidth": {"min_bps": 600000000}},
             "vifs": [{"id": "vif2.0", "uplink": "eth0", "demand": demand}]},
            {"id": "vm3", "vifs": [{"id": "vif3.0", "uplink": "eth1", "mac": "02:00:00:00:03:00",
                                    "demand": demand}]},
            {"id": "vm4", "sla": {"priority": 1, "bandwidth": {"min_bps": 2000000000}},
             "vifs": [{"id": "vif4.0", "uplink": "eth1", "demand": [
                 {"t_ms": 0, "bps": 2000000000, "frame_bytes": 1500}]}]}]}))
    token = write("token", "s3cret0123456789\n")
    agent, port = start_agent("plain", ["--token-file", token], scenario)
    url = "http://127.0.0.1:%d" % port
    up = wait_for(lambda: ctl("--url", url, "host")[0] == 0, 10)
    check("the agent answers dbavmctl host", up)
    if not up:
        return
    # The sim's first periods: wait until every VM has sent, and a period has counted it (the
    # first, tick 0, sets limits before any traffic is counted: no demand, so no uplink is
    # over-committed yet; "host" read then on a loaded machine missed OVER-COMMITTED).
    def counted():
        rc, out, _ = ctl("--url", url, "--json", "host")
        return rc == 0 and json.loads(out).get("tick", 0) >= 2
    wait_for(lambda: "vm4" in ctl("--url", url, "vms")[1] and counted(), 10)

    # ---- vms, host ----
    rc, out, err = ctl("--url", url, "vms")
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("vm")}
    check("vms: every VM, one line each",
          rc == 0 and sorted(lines) == ["vm1", "vm2", "vm3", "vm4"],
          out + err)
    check("vms: SLAs in human units (900M, 600M, none)",
          lines.get("vm1", [""] * 3)[2] == "900M" and lines.get("vm2", [""] * 3)[2] == "600M"
          and lines.get("vm3", [""] * 3)[2] == "0", out)
    rc, out, err = ctl("--url", url, "--json", "vms")
    doc = json.loads(out) if rc == 0 else {}
    check("--json vms is the agent's GET /vms",
          sorted(v["id"] for v in doc.get("vms", [])) == ["vm1", "vm2", "vm3", "vm4"],
          out + err)
    rc, out, err = ctl("--url", url, "host")
    check("host: the uplink, its capacity and what is guaranteed on it",
          rc == 0 and "eth0" in out and " 1G " in out and "1.5G" in out and
          "OVER-COMMITTED" in out, out + err)

    # ---- top, in a terminal, while vm2 misses its guarantee ----
    top_in_tmux(url)

    # ---- sla get / set / rm ----
    vm1 = "vm1"
    rc, out, err = ctl("--url", url, "sla", "get", "vm1")
    check("sla get: the SLA in human units", rc == 0 and "900M" in out and "vm1" in out,
          out + err)
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", "vm1", "--min",
                       "400M", "--max", "1.5G", "--max-pps", "20k", "--min-pps", "1k")
    got = sla_of(url, vm1)
    check("sla set: human units reach the agent exactly",
          rc == 0 and got == {"priority": 1, "weight": 1,
                              "bandwidth": {"min_bps": 400000000, "max_bps": 1500000000},
                              "packet_rate": {"min_pps": 1000, "max_pps": 20000}},
          (rc, out, err, got))
    check("sla set: says it replaced the SLA", "replaced" in out, out)
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", vm1, "--weight",
                       "3", "--max", "unlimited")
    got = sla_of(url, vm1)
    check("sla set changes only what it is told (priority and the rest kept; unlimited)",
          rc == 0 and got["weight"] == 3 and got["bandwidth"] == {"min_bps": 400000000,
                                                                 "max_bps": None}
          and got["packet_rate"]["max_pps"] == 20000 and got["priority"] == 1, got)
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", "vm9", "--min",
                       "10M")
    got = sla_of(url, "vm9")
    check("sla set for a VM not here yet: created with the default class 7",
          rc == 0 and "set" in out and got and got["priority"] == 7 and
          got["bandwidth"]["min_bps"] == 10000000, (rc, out, err, got))
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "rm", "vm9")
    check("sla rm: removed", rc == 0 and "removed" in out and sla_of(url, "vm9") is None,
          (rc, out, err))
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "rm", "vm9")
    check("sla rm of what is not there: exit 1, the agent's 404", rc == 1 and "404" in err,
          (rc, err))
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", "vm3", "--min",
                       "900M")
    check("a guarantee that does not fit: exit 1 with the agent's 409 and its reason",
          rc == 1 and "409" in err and "free" in err, (rc, err))
    before = sla_of(url, "vm3")
    rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", "vm3", "--ingress",
                       "--max", "30M")
    check("sla set --ingress where the enforcer does not hold it: exit 1, the agent's 409 "
          "naming ingress, nothing changed",
          rc == 1 and "409" in err and "ingress" in err and sla_of(url, "vm3") == before,
          (rc, err))
    # ---- a port's own SLA: by its MAC, shown in ports ----
    rc, out, err = ctl("--url", url, "--token-file", token, "port", "set",
                       "02-00-00-00-03-00", "--priority", "2", "--max", "300M")
    rc2, out2, err2 = ctl("--url", url, "--json", "port", "get", "vif3.0")
    got = json.loads(out2) if rc2 == 0 else None
    check("port set by MAC: the port's own SLA, read back by its vif",
          rc == 0 and "set" in out and "PORT" in out and got and got["priority"] == 2 and
          got["bandwidth"]["max_bps"] == 300000000, (rc, out, err, rc2, out2, err2))
    def port_row():
        rc, out, err = ctl("--url", url, "ports")
        row = [ln.split() for ln in out.splitlines() if ln.startswith("02:00:00:00:03:00")]
        return (rc, out, err, row[0]) if row and row[0][3] == "port" else None
    got = wait_for(port_row, 10)
    check("ports: the port, its VM, vif, where its SLA comes from, its max and its limit",
          got and got[0] == 0 and got[3][1:6] == ["vm3", "vif3.0", "port", "2", "300M"],
          got)
    rc, out, err = ctl("--url", url, "--token-file", token, "port", "rm", "vif3.0")
    rc2, out2, err2 = ctl("--url", url, "port", "get", "vif3.0")
    check("port rm: its VM's SLA covers it again; port get then says 404",
          rc == 0 and "VM's SLA" in out and rc2 == 1 and "404" in err2, (out, err, err2))
    rc, out, err = ctl("--url", url, "--token-file", token, "port", "set", "nosuch",
                       "--max", "1M")
    check("port set for a port not here by a key that is not a MAC: exit 1, the agent's 404",
          rc == 1 and "404" in err and "MAC" in err, (rc, err))
    rc, out, err = ctl("--url", url, "vms")
    check("vms: what each VM received is n/a where the enforcer does not hold ingress",
          rc == 0 and "RECEIVED" in out and "n/a" in out, out)

    # ---- units refused before anything is sent ----
    before = sla_of(url, vm1)
    for flag, val, says in (("--min", "150m", "milli"), ("--max", "1Gi", "binary"),
                            ("--max", "150MB", "bytes"), ("--min", "1.0005k", "whole number"),
                            ("--min", "-5M", "negative"), ("--max-pps", "20kbps", "packet"),
                            ("--min", "101T", "most the agent accepts"),
                            ("--priority", "8", "0 to 7"), ("--weight", "0", "1 to 10000"),
                            ("--min", "", "empty")):
        rc, out, err = ctl("--url", url, "--token-file", token, "sla", "set", vm1, flag, val)
        check("%s %r refused: exit 2, says %s" % (flag, val, says), rc == 2 and says in err,
              (rc, err))
    check("refused units changed nothing", sla_of(url, vm1) == before)
    for argv, says in ((["sla", "set", vm1], "nothing to set"), (["sla"], "not a command"),
                       (["sla", "get"], "not a command"), (["frobnicate"], "not a command"),
                       (["sla", "set", vm1, "--min", "1M", "extra"], "unexpected"),
                       (["top", "-d", "0"], "0.1 to 3600"),
                       (["sla", "set", vm1, "--frob", "1"], "no such option '--frob'"),
                       (["sla", "set", vm1, "--min"], "a value must follow '--min'")):
        rc, out, err = ctl("--url", url, *argv)
        check("dbavmctl %s: exit 2, says %s" % (" ".join(argv), says), rc == 2 and says in err,
              (rc, err))

    # ---- the token ----
    rc, out, err = ctl("--url", url, "--token-file", os.path.join(work, "none"), "sla", "set",
                       vm1, "--min", "1M")
    check("no readable token: exit 1, and says which file and why",
          rc == 1 and "401" in err and "none cannot be read" in err, err)
    wrong = write("wrong-token", "nope\n")
    rc, out, err = ctl("--url", url, "--token-file", wrong, "sla", "rm", vm1)
    check("a wrong token: exit 1, the agent's 401", rc == 1 and "401" in err, err)

    # ---- the agent found from its configuration file ----
    conf = write("dbavmd.conf", "listen 127.0.0.1:%d\ntoken-file %s\n" % (port, token))
    rc, out, err = ctl("-c", conf, "sla", "set", vm1, "--min", "300M")
    check("-c: address and token from the agent's own configuration file",
          rc == 0 and sla_of(url, vm1)["bandwidth"]["min_bps"] == 300000000, (rc, out, err))
    rc, out, err = ctl("-c", conf, "vms", env={"DBAVM_URL": "http://127.0.0.1:1"})
    check("DBAVM_URL overrides the file; the agent not there: exit 3 and says where",
          rc == 3 and "127.0.0.1:1" in err, (rc, err))
    rc, out, err = ctl("--url", "file:///etc/passwd", "vms")
    check("--url speaks only HTTP and HTTPS: file:// refused, exit 3",
          rc == 3 and "file" in err and "root:" not in out, (rc, out, err))
    bad = write("bad.conf", "listen 127.0.0.1:%d\nfrobnicate 1\n" % port)
    rc, out, err = ctl("-c", bad, "vms")
    check("a configuration file the agent would refuse is refused, with its line",
          rc == 2 and "bad.conf:2" in err and "frobnicate" in err, (rc, err))
    rc, out, err = ctl("-c", os.path.join(work, "missing.conf"), "vms")
    check("-c of a missing file: exit 2", rc == 2 and "missing.conf" in err, (rc, err))

    rc, out, err = ctl("--url", url, "top", "-b", "-n", "2", "-d", "0.2")
    check("top -b -n 2: two frames, then exit 0",
          rc == 0 and out.count("dbavmctl top") == 2, (rc, out, err))
    rc, out, err = ctl("--url", "http://127.0.0.1:1", "top", "-b", "-n", "1")
    check("top -b with the agent gone shows why in the frame, and exits 3",
          rc == 3 and "cannot reach the agent" in out, (rc, out))

    agent.terminate()
    agent.wait(timeout=10)

    # ---- an agent that wants its token for reads too (--auth-reads) ----
    agent, port = start_agent("reads", ["--token-file", token, "--auth-reads"], scenario)
    url = "http://127.0.0.1:%d" % port
    none = os.path.join(work, "none")
    up = wait_for(lambda: ctl("--url", url, "--token-file", token, "host")[0] == 0, 10)
    check("--auth-reads: reads with the token", up)
    rc, out, err = ctl("--url", url, "--token-file", none, "vms")
    check("--auth-reads: vms without a token, exit 1: the 401 and which file could not be read",
          rc == 1 and "401" in err and "wants its token" in err and "none cannot be read" in err,
          (rc, err))
    rc, out, err = ctl("--url", url, "--token-file", none, "top", "-b", "-n", "1")
    check("--auth-reads: top -b without a token shows the 401 and the token's story in the "
          "frame, and exits 1", rc == 1 and "GET /host: 401" in out and "wants its token" in out and
          "none cannot be read" in out, (rc, out, err))
    agent.terminate()
    agent.wait(timeout=10)

    # ---- HTTPS and a client certificate ----
    ca, crt, key = ostack.make_ca(work, "api")
    ccsr, ckey, ccrt = (os.path.join(work, "client" + x) for x in (".csr", ".key", ".pem"))
    ext = write("client.ext", "extendedKeyUsage = clientAuth\n")
    for argv in (["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", ckey, "-out", ccsr, "-subj", "/CN=operator"],
                 ["openssl", "x509", "-req", "-in", ccsr, "-CA", ca, "-CAkey",
                  os.path.join(work, "api-ca.key"), "-CAcreateserial", "-out", ccrt, "-days",
                  "2", "-extfile", ext]):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    agent, port = start_agent("tls", ["--token-file", token, "--tls-cert", crt, "--tls-key",
                                      key, "--tls-client-ca", ca], scenario)
    conf = write("tls.conf", "listen 127.0.0.1:%d\ntoken-file %s\ntls-cert %s\ntls-key %s\n"
                 "tls-client-ca %s\n" % (port, token, crt, key, ca))
    client = ["--cert", ccrt, "--key", ckey]
    up = wait_for(lambda: ctl("-c", conf, *client, "host")[0] == 0, 10)
    check("HTTPS: found from the configuration file (https, its certificate trusted) with a "
          "client certificate", up, ctl("-c", conf, *client, "host"))
    rc, out, err = ctl("-c", conf, *client, "sla", "set", "vm2", "--max", "800M")
    check("HTTPS: sla set with the token", rc == 0 and "800M" in out, (rc, out, err))
    rc, out, err = ctl("-c", conf, "vms")
    check("HTTPS without a client certificate: exit 3, the handshake refused", rc == 3, (rc, err))
    rc, out, err = ctl("-c", conf, "--cacert", "/etc/ssl/certs/ca-certificates.crt", *client,
                       "vms")
    check("HTTPS with a CA that did not sign the agent's certificate: exit 3",
          rc == 3 and "certificate" in err.lower(), (rc, err))
    rc, out, err = ctl("-c", conf, "--cert", ccrt, "vms")
    check("--cert without --key: exit 2", rc == 2 and "go together" in err, (rc, err))


def tmux(*args):
    return subprocess.run(TMUX + list(args), capture_output=True, text=True, timeout=10)


def top_in_tmux(url):
    """top in a 120x24 terminal: its screen, sorted by what is furthest from its SLA; then q."""
    r = tmux("new-session", "-d", "-x", "120", "-y", "24", "-s", "top",
             "exec timeout 60 %s --url %s top" % (CTL, url))
    check("tmux started dbavmctl top", r.returncode == 0, r.stderr)
    if r.returncode:
        return

    def screen():
        return tmux("capture-pane", "-p", "-t", "top").stdout

    shown = wait_for(lambda: "vm4" in screen() and "JITTER" in screen() and screen(), 10)
    rows = [ln.split() for ln in shown.splitlines() if ln.startswith("vm")]
    print("  the screen:\n" + "\n".join("    " + ln for ln in shown.rstrip().splitlines()))
    check("top: a header with the uplinks and one line per VM",
          "uplink eth0" in shown and "uplink eth1" in shown and len(rows) == 4, shown)
    check("top: what each VM received, n/a where the enforcer does not hold ingress",
          "RECEIVED" in shown and all("n/a" in r for r in rows) and "receiving:" not in shown,
          shown)
    # What each misses, from the agent's own figures (no maximum is set: the guarantee,
    # at most what was offered, is what is due).
    doc = json.loads(ctl("--url", url, "--json", "vms")[1])
    gaps = {}
    for v in doc["vms"]:
        mn = v["sla"]["bandwidth"]["min_bps"]
        due = min(mn, v["offered"]["bps"])
        gaps[v["id"]] = (due - v["passed"]["bps"]) / mn if mn and v["passed"]["bps"] < due else 0
    check("top: vm4 misses its guarantee by half, vm1 and vm2 by a third, vm3 has none",
          abs(gaps["vm4"] - 0.5) < 0.02 and abs(gaps["vm1"] - 1 / 3) < 0.02 and
          abs(gaps["vm2"] - 1 / 3) < 0.02 and gaps["vm3"] == 0, gaps)
    check("top: sorted by what is furthest from its SLA, then by name",
          [r[0] for r in rows] == sorted(gaps, key=lambda k: (-round(gaps[k], 2), k)),
          (rows, gaps))
    check("top: each VM's SLA column says met or by how much it is missed",
          all(r[-1] == "ok" or r[-1] in ("min", "max", "min-pps", "max-pps") for r in rows), rows)
    esc = tmux("capture-pane", "-p", "-e", "-t", "top").stdout
    check("top: the column header in reverse video", "\x1b[7m" in esc, esc[:400])
    first = shown
    later = wait_for(lambda: screen() != first and screen(), 4)
    check("top: the screen refreshes by itself", later and later != first)
    tmux("resize-window", "-t", "top", "-x", "60", "-y", "24")
    narrow = wait_for(lambda: "JITTER" not in screen() and "vm1" in screen() and screen(), 4)
    check("top: a narrower terminal clips the lines, it does not wrap them",
          narrow and all(len(ln) <= 60 for ln in narrow.splitlines()) and
          sum(ln.startswith("vm") for ln in narrow.splitlines()) == 4, narrow)
    tmux("send-keys", "-t", "top", "q")
    gone = wait_for(lambda: tmux("has-session", "-t", "top").returncode != 0, 5)
    check("top: q quits", gone)


run_test(main, work, procs,
    cleanup=lambda: subprocess.run(TMUX + ["kill-server"], capture_output=True, timeout=10))
