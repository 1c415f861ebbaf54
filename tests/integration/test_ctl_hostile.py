#!/usr/bin/python3
"""dbavmctl against a fake agent that does not play fair (loopback): it streams an answer that
never ends, names VMs with escape sequences, answers what is not JSON or not the API's shape,
and sends its answer one byte a second; and, on a Unix socket, a fake agent run by another user.

  test_ctl_hostile.py DBAVMCTL

Checks: an endless answer ends with exit 4 and one line, in a few seconds, with dbavmctl's peak
memory under 64 MB (the cap is 16 MiB); names and error messages with ESC, BEL, CR, C1
controls and bytes that are not UTF-8 are printed with none of them (`vms`, `host`, `top -b`,
an error message, `--json`); an answer that is not JSON, or JSON of another shape, exits 4 with
a line that says so (`top -b` too); SIGTERM and SIGINT end `top` within a second while a slow
answer is under way. Over a Unix socket, dbavmctl sends no token (a fake agent run by root
records the request), and one answered by another user (nobody, in a directory anyone can
write, as one who could replace the agent's socket would) gets nothing: exit 3, the uid named. The fake agent is a thread of this test; dbavmctl runs under `timeout`.
"""
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, timing  # noqa: E402

CTL = sys.argv[1]
work = tempfile.mkdtemp(prefix="dbavm-ctl-hostile-")
procs = []

# What could drive a terminal: C0 but newline, DEL, C1 (UTF-8 of U+0080-U+009F).
CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
EVIL = "vm\x1b]0;PWNED\x07\x1b[2J\r\x9b31m\u2603"  # OSC retitle, clear, CR, C1 CSI, a snowman

HOST = {"platform": "sim", "enforcer": "none", "mode": "work_conserving", "period_ms": 100,
        "tick": 1, "overruns": 0, "capacity_pps": None, "committed_pps": 0,
        "allocated_pps": 0, "floor": {"bps": 0, "pps": 0},
        "uplinks": [{"name": EVIL, "vifs": 1, "capacity_bps": 1000000000,
                     "committed_bps": 0, "allocated_bps": 0}]}
VMS = {"vms": [{"id": EVIL, "present": True, "sla": {"priority": 1},
                "offered": {"bps": 1000, "pps": 1}, "passed": {"bps": 1000, "pps": 1},
                "dropped": {"bps": 0, "pps": 0}, "jitter_s": None}]}


class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "evil"

    def log_message(self, *args):
        pass

    def send_body(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        m = Fake.mode
        try:
            if m == "stream":  # chunked, never ends (until the client goes)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"[" + b"0," * 32767 + b"0"
                frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                while True:
                    self.wfile.write(frame)
            elif m == "liar":  # says a small length, then more than 16 MiB
                self.send_response(200)
                self.send_header("Content-Length", str(64 << 20))
                self.end_headers()
                while True:
                    self.wfile.write(b" " * 65536)
            elif m == "slow":  # a byte a second
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            elif m == "notjson":
                self.send_body(200, b"<html>\x1b[2J hello</html>", "text/html")
            elif m == "shape":
                self.send_body(200, b'["not", "the", "api"]')
            elif m == "shape-vms":
                self.send_body(200, json.dumps({"vms": {"x": 1}}).encode())
            elif m == "refuse":
                self.send_body(409, json.dumps({"error": "no \x1b]0;PWNED\x07" + EVIL}).encode())
            elif self.path.startswith("/host"):
                self.send_body(200, json.dumps(HOST).encode())
            else:
                self.send_body(200, json.dumps(VMS).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass


def ctl(url, *args, timeout=30):
    """Exit code, stdout and stderr (bytes), and the run's peak memory in MB."""
    r = subprocess.run(["timeout", str(timeout), CTL, "--url", url] + list(args),
                       capture_output=True, timeout=timeout + 10)
    return r.returncode, r.stdout, r.stderr


def peak_mb(url, *args):
    """dbavmctl's exit code and peak RSS (MB) for one run, measured alone (a child's rusage)."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output="
            "True); print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code, "timeout", "60", CTL, "--url", url] +
                       list(args), capture_output=True, text=True, timeout=90)
    rc, kb = r.stdout.split()
    return int(rc), int(kb) / 1024


def main():
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Fake)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % port

    # ---- names and messages that would drive a terminal ----
    Fake.mode = "evil"
    for args in (["vms"], ["host"], ["top", "-b", "-n", "1"], ["--json", "vms"]):
        rc, out, err = ctl(url, *args)
        check("%s: exit 0, and no control character in what it prints" % " ".join(args),
              rc == 0 and not CONTROL.search(out) and not CONTROL.search(err),
              (rc, out[:300], err[:300]))
    rc, out, _ = ctl(url, "vms")
    check("vms: the name is there, its controls as '?' and the snowman kept",
          "vm?]0;PWNED??[2J??31m\u2603".encode() in out, out[:300])
    rc, out, _ = ctl(url, "--json", "vms")
    check("--json: still JSON, the controls escaped", json.loads(out)["vms"][0]["id"] == EVIL,
          out[:300])
    Fake.mode = "refuse"
    rc, out, err = ctl(url, "sla", "get", "vm1")
    check("a refusal whose message holds escapes: exit 1, printed without them",
          rc == 1 and b"409 no ?]0;PWNED?" in err and not CONTROL.search(err), (rc, err))

    # ---- answers that are not the API's ----
    for mode, args, says in (("notjson", ["vms"], b"not JSON"),
                             ("notjson", ["top", "-b", "-n", "1"], b"not JSON"),
                             ("shape", ["host"], b"not the API's"),
                             ("shape-vms", ["vms"], b"not the API's"),
                             ("shape", ["top", "-b", "-n", "1"], b"not the API's")):
        Fake.mode = mode
        rc, out, err = ctl(url, *args)
        check("%s answering %s: exit 4, and it says so" % (" ".join(args), mode),
              rc == 4 and says in out + err and not CONTROL.search(out + err),
              (rc, out[:200], err[:200]))

    # ---- answers that do not end ----
    for mode in ("stream", "liar"):
        Fake.mode = mode
        for args in (["vms"], ["top", "-b", "-n", "1"]):
            t = time.monotonic()
            rc, mb = peak_mb(url, *args)
            dt = time.monotonic() - t
            print("info %s answering %s: exit %d after %.1f s, peak %.1f MB" % (
                " ".join(args), mode, rc, dt, mb))
            what = "%s against an answer that %s" % (
                " ".join(args), "never ends" if mode == "stream" else "claims 64 MiB")
            check("%s: exit 4" % what, rc == 4, rc)
            # (a sanitizer build's shadow memory and quarantine: printed there, not judged)
            timing("%s: within 10 s (%.1f), peak memory %.0f MB (< 64)" % (what, dt, mb),
                   dt < 10 and mb < 64, (dt, mb))
    rc, out, err = ctl(url, "vms")
    check("the error says the answer is too large", b"larger than 16 MiB" in err, err)

    # ---- a slow answer: top ends at once on SIGTERM and SIGINT ----
    Fake.mode = "slow"
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = subprocess.Popen(["timeout", "60", CTL, "--url", url, "top", "-b"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        time.sleep(1.5)  # inside the first, slow, transfer
        child = int(open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()[0])
        t = time.monotonic()
        os.kill(child, sig)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        dt = time.monotonic() - t
        check("top -b, a slow answer under way: %s ends it" % signal.Signals(sig).name,
              p.poll() is not None, dt)
        timing("top -b: %s ended it in %.2f s (< 1.5)" % (signal.Signals(sig).name, dt),
               dt < 1.5, dt)
    srv.shutdown()
    unix_socket_peers()


# A fake agent on a Unix socket: records what the first client sends (up to its blank line),
# answers an empty VM list, and ends; bounded by its own timeouts and `timeout`.
RECORDER = r"""
import json, socket, sys
path, rec = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(3)
data = b""
try:
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
open(rec, "wb").write(data)
if data:
    body = json.dumps({"vms": []}).encode()
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
c.close()
"""


def recorder(path, rec, as_user=None):
    # (Debian's python3 for another user: this one may live where only root can reach)
    cmd = ["timeout", "30", "/usr/bin/python3" if as_user else sys.executable, "-c", RECORDER,
           path, rec]
    if as_user:
        cmd = ["setpriv", "--reuid=" + as_user, "--regid=" + as_user, "--clear-groups"] + cmd
    p = subprocess.Popen(cmd)
    procs.append(p)
    for _ in range(100):
        if os.path.exists(path):
            return p
        time.sleep(0.05)
    return p


def unix_socket_peers():
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("ctl-hostile-token-0123456789\n")
    os.chmod(token, 0o600)
    # The agent's own user (root here) answers: dbavmctl talks, and sends no token
    sock, rec = os.path.join(work, "root.sock"), os.path.join(work, "root.rec")
    p = recorder(sock, rec)
    r = subprocess.run(["timeout", "20", CTL, "--socket", sock, "--token-file", token, "vms"],
                       capture_output=True)
    p.wait(10)
    sent = open(rec, "rb").read() if os.path.exists(rec) else b""
    check("unix socket answered by root: exit 0", r.returncode == 0, (r.returncode, r.stderr))
    check("unix socket: the request went, with no token in it",
          sent.startswith(b"GET /vms") and b"authorization" not in sent.lower() and
          b"ctl-hostile-token" not in sent, sent)
    # Another user answers on the socket: nothing is sent, and the refusal names the uid
    os.chmod(work, 0o711)
    pub = os.path.join(work, "public")
    os.mkdir(pub)
    os.chmod(pub, 0o1777)
    sock, rec = os.path.join(pub, "api.sock"), os.path.join(pub, "nobody.rec")
    p = recorder(sock, rec, as_user="65534")  # nobody, nogroup
    r = subprocess.run(["timeout", "20", CTL, "--socket", sock, "--token-file", token, "vms"],
                       capture_output=True)
    p.wait(10)
    sent = open(rec, "rb").read() if os.path.exists(rec) else None
    check("unix socket answered by nobody: exit 3", r.returncode == 3, (r.returncode, r.stderr))
    check("it says who answered: %s" % r.stderr.decode(errors="replace").strip(),
          b"answered by uid 65534" in r.stderr and b"nothing sent" in r.stderr, r.stderr)
    check("nobody's fake agent got nothing (no request, no token)", sent == b"", sent)


run_test(main, work, procs)
