#!/usr/bin/python3
"""HTTPS, client certificates and SIGHUP against a real dbavmd (sim platform, loopback).

  test_tls.py DBAVMD DATA_DIR

Certificates are made here by openssl: a CA, the server's (IP 127.0.0.1), a client's, a
client of another CA, an expired server certificate (openssl ca with dates in the past) and
keys that do not match. Checks: curl with the CA and a client certificate gets answers and
can PUT with the token; plain HTTP to the port gets no HTTP answer; no client certificate, or
one from another CA, gets no HTTP answer either; nor does a certificate of the client CA
that is not a client's (a server's, serverAuth only; the agent's own; the CA's own), while
one that names no purpose is taken; a key readable by others, a key that is not
the certificate's, an expired certificate, --tls-cert without --tls-key: each refuses start
with exit 2 and one line. SIGHUP: a new certificate is served to the next connection, a new
token replaces the old, a bad new configuration (a key open to others, a config file that does
not parse) is refused with a log line and the old one kept; SLAs and counters are kept and no
period is missed (a 10 ms period, 20 reloads). Then a real Prometheus scrapes /metrics over
mutual TLS. Everything it starts it stops by its PID.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, timing, wait_for  # noqa: E402

DBAVMD, DATA = sys.argv[1], sys.argv[2]
SCENARIO = os.path.join(DATA, "paper-scenario1.json")
work = tempfile.mkdtemp(prefix="dbavm-tls-test-")
procs = []


def run(argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


def p(name):
    return os.path.join(work, name)


def ec_key(name):
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", p(name + ".key")])
    os.chmod(p(name + ".key"), 0o600)


def make_ca(name):
    ec_key(name)
    run(["openssl", "req", "-x509", "-key", p(name + ".key"), "-out", p(name + ".pem"),
         "-days", "3", "-subj", "/CN=dbavm test " + name])


def issue(name, ca, cn, server, dates=None, eku=True):
    """A certificate for name's key, signed by ca (openssl ca, so dates can be set); without
    eku, one that names no purpose (no Extended Key Usage)."""
    ec_key(name)
    run(["openssl", "req", "-new", "-key", p(name + ".key"), "-out", p(name + ".csr"),
         "-subj", "/CN=" + cn])
    d = p(ca + "-db")
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(d + "/index.txt"):
        open(d + "/index.txt", "w").close()
        with open(d + "/serial", "w") as f:
            f.write("%016x\n" % int.from_bytes(os.urandom(7), "big"))
    with open(d + "/ca.cnf", "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                "serial = %s/serial\ndefault_md = sha256\npolicy = pol\ncopy_extensions = none\n"
                "unique_subject = no\n[pol]\ncommonName = supplied\n[ext]\n"
                "basicConstraints = CA:FALSE\n%s\n" % (
                    d, d, d, ("subjectAltName = IP:127.0.0.1\n" if server else "") + (
                        "" if not eku else "extendedKeyUsage = serverAuth" if server
                        else "extendedKeyUsage = clientAuth")))
    when = (["-startdate", dates[0], "-enddate", dates[1]] if dates else ["-days", "2"])
    run(["openssl", "ca", "-batch", "-config", d + "/ca.cnf", "-cert", p(ca + ".pem"),
         "-keyfile", p(ca + ".key"), "-extensions", "ext", "-in", p(name + ".csr"),
         "-out", p(name + ".pem"), "-notext"] + when)


class Agent:
    def __init__(self, args, period=100, conf=None, scenario=SCENARIO):
        self.port = free_port()
        self.log = p("agent-%d.log" % self.port)
        state = p("state-%d" % self.port)
        os.makedirs(state, exist_ok=True)
        argv = [DBAVMD, "--platform", "sim", "--scenario", scenario, "--period", str(period),
                "--listen", "127.0.0.1:%d" % self.port, "--state-dir", state] + args
        if conf:
            argv += ["-c", conf]
        self.proc = subprocess.Popen(["timeout", "300"] + argv, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))
        procs.append(self.proc)

    def pid(self):
        """dbavmd's own PID (timeout's child), for SIGHUP."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            return int(f.read().split()[0])

    def hup(self):
        os.kill(self.pid(), signal.SIGHUP)

    def reloads(self):
        """How many reloads the agent has finished, taken or refused (its log says each)."""
        t = self.text()
        return t.count("level=info reloaded") + t.count("reload refused")

    def reload(self):
        """SIGHUP, then wait (10 s at most) until the agent has said how the reload went."""
        n = self.reloads()
        self.hup()
        return wait_for(lambda: self.reloads() > n, 10, step=0.02)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def ctx(client=True, ca="ca"):
    c = ssl.create_default_context(cafile=p(ca + ".pem"))
    if client:
        c.load_cert_chain(p("client.pem"), p("client.key"))
    return c


def https(port, method, path, body=None, headers=None, context=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5,
                                    context=context or ctx())
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read().decode()
    c.close()
    return r.status, data


def peer_der(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx().wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


def der_of(name):
    with open(p(name + ".pem")) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def refused(args, says):
    port = free_port()
    r = subprocess.run(["timeout", "30", DBAVMD, "--platform", "sim", "--scenario", SCENARIO,
                        "--listen", "127.0.0.1:%d" % port, "--state-dir", p("state-refused")]
                       + args, capture_output=True, text=True)
    lines = [x for x in r.stderr.splitlines() if not x.startswith("level=info")]
    return r.returncode == 2 and len(lines) <= 2 and says in r.stderr, (r.returncode, r.stderr)


def wait_ready(a):
    for _ in range(100):
        try:
            if https(a.port, "GET", "/readyz")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def main():
    os.makedirs(p("state-refused"), exist_ok=True)
    make_ca("ca")
    make_ca("other")
    issue("server", "ca", "127.0.0.1", True)
    issue("server2", "ca", "127.0.0.1", True)
    issue("client", "ca", "prometheus", False)
    issue("stranger", "other", "stranger", False)
    issue("anyuse", "ca", "any purpose", False, eku=False)
    issue("expired", "ca", "127.0.0.1", True, ("20200101000000Z", "20200102000000Z"))
    with open(p("token"), "w") as f:
        f.write("first-token-0123456789\n")
    os.chmod(p("token"), 0o600)

    # ---- start refused ----
    shutil.copy(p("server.key"), p("open.key"))
    os.chmod(p("open.key"), 0o644)
    ok, d = refused(["--tls-cert", p("server.pem"), "--tls-key", p("open.key")], "chmod 600")
    check("a key readable by others refuses start (exit 2, one line)", ok, d)
    ok, d = refused(["--tls-cert", p("server.pem"), "--tls-key", p("client.key")],
                    "is not the key of the certificate")
    check("a key that is not the certificate's refuses start", ok, d)
    ok, d = refused(["--tls-cert", p("expired.pem"), "--tls-key", p("expired.key")],
                    "has expired")
    check("an expired certificate refuses start", ok, d)
    ok, d = refused(["--tls-cert", p("server.pem")], "go together")
    check("--tls-cert without --tls-key is refused", ok, d)
    ok, d = refused(["--tls-cert", p("server.pem"), "--tls-key", p("server.key"),
                     "--tls-client-ca", p("token")], "no PEM certificate")
    check("a client CA file without a certificate refuses start", ok, d)

    # ---- mutual TLS ----
    conf = p("dbavmd.conf")
    with open(conf, "w") as f:
        f.write("tls-cert %s\ntls-key %s\ntls-client-ca %s\ntoken-file %s\n" % (
            p("server.pem"), p("server.key"), p("ca.pem"), p("token")))
    a = Agent([], period=10, conf=conf)
    check("the agent starts with HTTPS and client certificates", wait_ready(a), a.text()[-500:])
    st, body = https(a.port, "PUT", "/vms/vm1/sla", json.dumps(
        {"priority": 0, "bandwidth": {"min_bps": 1000000, "max_bps": 2000000}}),
        {"Authorization": "Bearer first-token-0123456789", "Content-Type": "application/json"})
    check("a PUT over HTTPS with a client certificate and the token", st in (200, 201), body)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "5", "--cacert", p("ca.pem"), "--cert", p("client.pem"), "--key",
                        p("client.key"), "https://127.0.0.1:%d/vms/vm1" % a.port],
                       capture_output=True, text=True)
    check("curl with the CA and a client certificate", r.stdout == "200", r.stdout)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "5", "http://127.0.0.1:%d/healthz" % a.port],
                       capture_output=True, text=True)
    check("plain HTTP to the port gets no HTTP answer", r.returncode != 0 and
          r.stdout == "000", (r.returncode, r.stdout))
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "5", "--cacert", p("ca.pem"), "https://127.0.0.1:%d/healthz" % a.port],
                       capture_output=True, text=True)
    check("no client certificate: no HTTP answer", r.returncode != 0 and r.stdout == "000",
          (r.returncode, r.stdout))
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "5", "--cacert", p("ca.pem"), "--cert", p("stranger.pem"), "--key",
                        p("stranger.key"), "https://127.0.0.1:%d/healthz" % a.port],
                       capture_output=True, text=True)
    check("a client certificate from another CA: no HTTP answer",
          r.returncode != 0 and r.stdout == "000", (r.returncode, r.stdout))
    check("the server presents its certificate", peer_der(a.port) == der_of("server"))
    # Certificates of the client CA that are not a client's: refused in the handshake.
    for cert, key, what in (("server2", "server2", "another server's certificate (serverAuth "
                             "only), same CA"),
                            ("server", "server", "the agent's own server certificate"),
                            ("ca", "ca", "the client CA's own certificate")):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            "--max-time", "5", "--cacert", p("ca.pem"), "--cert",
                            p(cert + ".pem"), "--key", p(key + ".key"),
                            "https://127.0.0.1:%d/healthz" % a.port],
                           capture_output=True, text=True)
        check("as a client: %s: no HTTP answer" % what, r.returncode != 0 and
              r.stdout == "000", (r.returncode, r.stdout))
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "5", "--cacert", p("ca.pem"), "--cert", p("anyuse.pem"), "--key",
                        p("anyuse.key"), "https://127.0.0.1:%d/healthz" % a.port],
                       capture_output=True, text=True)
    check("a client certificate that names no purpose (RFC 5280): taken", r.stdout == "200",
          (r.returncode, r.stdout))

    # ---- SIGHUP ----
    before = json.loads(https(a.port, "GET", "/host")[1])
    vm1 = json.loads(https(a.port, "GET", "/vms/vm1")[1])
    shutil.copy(p("server2.pem"), p("server.pem"))
    shutil.copy(p("server2.key"), p("server.key"))
    with open(p("token"), "w") as f:
        f.write("second-token-0123456789\n")
    check("the agent says how the reload went", a.reload())
    check("a reload: the new certificate is served to the next connection",
          peer_der(a.port) == der_of("server2"), a.text()[-400:])
    put = json.dumps({"priority": 0, "bandwidth": {"min_bps": 1000000, "max_bps": 3000000}})
    hdr = {"Content-Type": "application/json"}
    st_old = https(a.port, "PUT", "/vms/vm1/sla", put,
                   dict(hdr, Authorization="Bearer first-token-0123456789"))[0]
    st_new = https(a.port, "PUT", "/vms/vm1/sla", put,
                   dict(hdr, Authorization="Bearer second-token-0123456789"))[0]
    check("a reload: the new token replaces the old (old %d, new %d)" % (st_old, st_new),
          st_old == 401 and st_new == 200)
    # a bad new configuration is refused whole
    os.chmod(p("server.key"), 0o644)
    with open(p("token"), "w") as f:
        f.write("third-token-0123456789\n")
    check("the agent says how the reload went", a.reload())
    os.chmod(p("server.key"), 0o600)
    st = https(a.port, "GET", "/vms/vm1/sla")[0]
    st3 = https(a.port, "PUT", "/vms/vm1/sla", put, dict(hdr, Authorization="Bearer third-token-0123456789"))[0]
    check("a reload with a key open to others is refused, logged, and nothing of it taken",
          "reload refused" in a.text() and "chmod 600" in a.text() and st == 200 and
          st3 == 401 and peer_der(a.port) == der_of("server2"), a.text()[-600:])
    with open(conf, "a") as f:
        f.write("period fast\n")
    check("the agent says how the reload went", a.reload())
    check("a config file that does not parse: the reload is refused, the agent runs on",
          a.text().count("reload refused") == 2 and "period" in a.text().splitlines()[-1] and
          https(a.port, "GET", "/healthz")[0] == 200, a.text()[-400:])
    with open(conf, "w") as f:
        f.write("tls-cert %s\ntls-key %s\ntls-client-ca %s\ntoken-file %s\n"
                "request-timeout 20\n" % (
            p("server.pem"), p("server.key"), p("ca.pem"), p("token")))
    check("the agent says how the reload went", a.reload())
    check("a key only a restart can change is said and kept",
          "request-timeout changed, which takes a restart" in a.text() and
          "level=info reloaded" in a.text().splitlines()[-1], a.text()[-300:])
    for _ in range(20):
        a.hup()
        time.sleep(0.05)
    time.sleep(0.3)
    after = json.loads(https(a.port, "GET", "/host")[1])
    vm1b = json.loads(https(a.port, "GET", "/vms/vm1")[1])
    check("reloads keep the SLA, the limits and the counters",
          vm1b["sla"]["bandwidth"]["max_bps"] == 3000000 and vm1b["present"] and
          vm1b["vifs"][0]["limit"]["bps"] is not None and
          after["tick"] > before["tick"] and vm1["sla_set"] and vm1b["sla_set"])
    timing("no period missed over 23 reloads at a 10 ms period (overruns %d -> %d)" % (
        before["overruns"], after["overruns"]), after["overruns"] == before["overruns"])

    # ---- a reload that changes the allocator's mode takes effect on an idle host ----
    # vm2's guarantee, 600 Mbit/s, is idle: lent to vm1 when work-conserving, kept when strict
    with open(p("idle-guarantee.json"), "w") as f:
        json.dump({"uplinks": [{"name": "eth0", "capacity_bps": 1000000000}], "vms": [
            {"id": "vm1", "vifs": [{"id": "vif1.0", "uplink": "eth0", "demand": [
                {"t_ms": 0, "bps": 1000000000, "frame_bytes": 1500}]}]},
            {"id": "vm2", "sla": {"priority": 1, "bandwidth": {"min_bps": 600000000}},
             "vifs": [{"id": "vif2.0", "uplink": "eth0", "demand": [
                 {"t_ms": 0, "bps": 0, "frame_bytes": 1500}]}]}]}, f)
    mconf = p("mode.conf")
    with open(mconf, "w") as f:
        f.write("mode work_conserving\n")
    m = Agent([], conf=mconf, scenario=p("idle-guarantee.json"))

    def limit():
        try:
            c = http.client.HTTPConnection("127.0.0.1", m.port, timeout=5)
            c.request("GET", "/vms/vm1")
            v = json.loads(c.getresponse().read())
            c.close()
            return v["vifs"][0]["limit"]["bps"]
        except (OSError, ValueError, KeyError, IndexError):
            return None

    for _ in range(50):
        if limit():
            break
        time.sleep(0.1)
    time.sleep(0.5)
    wc = limit()
    with open(mconf, "w") as f:
        f.write("mode strict\n")
    check("the agent says how the reload went", m.reload())
    # the allocator's next period applies the new mode
    wait_for(lambda: wc and (limit() or wc) < wc, 5)
    st = limit()
    check("a reload to strict mode re-runs the allocator (vm1's limit %s -> %s bit/s)" % (wc, st),
          wc and st and st < wc, m.text()[-300:])
    check("that agent stops cleanly", m.stop() == 0)

    # ---- Prometheus over mutual TLS ----
    prom_port = free_port()
    with open(p("prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: dbavm\n"
                "    scheme: https\n    tls_config:\n      ca_file: %s\n      cert_file: %s\n"
                "      key_file: %s\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
                % (p("ca.pem"), p("client.pem"), p("client.key"), a.port))
    prom = subprocess.Popen(["timeout", "120", "prometheus", "--config.file=" + p("prometheus.yml"),
                             "--storage.tsdb.path=" + p("tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"],
                            stdout=subprocess.DEVNULL, stderr=open(p("prom.log"), "w"))
    procs.append(prom)
    value = None
    for _ in range(60):
        try:
            c = http.client.HTTPConnection("127.0.0.1", prom_port, timeout=5)
            c.request("GET", "/api/v1/query?query=up%7Bjob%3D%22dbavm%22%7D")
            res = json.loads(c.getresponse().read())["data"]["result"]
            c.close()
            if res:
                value = res[0]["value"][1]
                if value == "1":
                    break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    check("a real Prometheus scrapes /metrics over mutual TLS (up = %s)" % value, value == "1")
    prom.terminate()
    prom.wait()
    check("the agent stops cleanly", a.stop() == 0)


run_test(main, work, procs)
