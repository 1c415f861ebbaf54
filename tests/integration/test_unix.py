#!/usr/bin/python3
"""The API on a Unix socket (--listen-unix), against a real dbavmd (sim), with real clients
(curl --unix-socket, dbavmctl) run as root, as a member of the API group and as a user outside
it (setpriv: uid 65534, with and without the group; no user or group is added to the host).

  test_unix.py DBAVMD DBAVMCTL DATA_DIR

- The socket is 0666 and root's, its directory made 0755; removed when the agent stops.
- root changes an SLA with no token; so does a member of --api-group (a gid); a user outside it
  reads, and gets 403 on PUT and DELETE; with --auth-reads, 403 on reads too, /healthz stays.
- dbavmctl, with no token file anywhere, finds the socket in the agent's configuration file
  and changes an SLA as root; as the outsider it is refused (exit 1, the 403 said).
- A client sending its request head slowly over the socket is closed and counted in
  dbavm_http_connections_closed_total, as over TCP.
- A socket left by an agent killed with SIGKILL is replaced at the next start; a regular file
  there is refused (the agent does not start, the file stays); a second agent on a socket the
  first listens on does not start and leaves the first's socket working.
"""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, wait_for  # noqa: E402

DBAVMD, DBAVMCTL, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp(prefix="dbavm-unix-test-")
os.chmod(work, 0o755)  # the outsider must reach the socket, as under /run
procs = []
SOCK = os.path.join(work, "run", "api.sock")
GID = 4242
AS_MEMBER = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=%d" % GID]
AS_OTHER = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SLA = '{"priority": 2, "bandwidth": {"min_bps": 1000000, "max_bps": null}}'


def start(*extra, wait=True):
    log = open(os.path.join(work, "agent-%d.log" % len(procs)), "w+")
    p = subprocess.Popen(["timeout", "120", DBAVMD, "--platform", "sim", "--scenario",
                          os.path.join(DATA, "paper-scenario1.json"), "--listen",
                          "127.0.0.1:%d" % free_port(), "--state-dir",
                          os.path.join(work, "state-%d" % len(procs)), "--listen-unix", SOCK,
                          "--api-group", str(GID)] + list(extra),
                         stdout=log, stderr=subprocess.STDOUT)
    p.log = log
    procs.append(p)
    if wait:
        wait_for(lambda: curl([], "GET", "/readyz")[0] == 200 or p.poll() is not None, 10)
    return p


def curl(who, method, path, body=None):
    """(status, body) of one request over the socket, as who (a setpriv prefix)."""
    cmd = who + ["curl", "-s", "-m", "5", "--unix-socket", SOCK, "-X", method,
                 "-o", "-", "-w", "\n%{http_code}", "http://localhost" + path]
    if body:
        cmd += ["-H", "Content-Type: application/json", "-d", body]
    r = subprocess.run(cmd, capture_output=True, text=True)
    out, _, code = r.stdout.rpartition("\n")
    return int(code or 0), out


def ctl(who, *args):
    return subprocess.run(who + [DBAVMCTL, "-c", conf] + list(args), capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"]})


def listening():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(SOCK)
        return True
    except OSError:
        return False
    finally:
        s.close()


def output(p):
    p.log.flush()
    p.log.seek(0)
    return p.log.read()


conf = os.path.join(work, "dbavmd.conf")


def main():
    with open(conf, "w") as f:  # what dbavmctl reads: the socket, and no token anywhere
        f.write("listen-unix %s\ntoken-file %s/no-such-token\n" % (SOCK, work))
    os.chmod(conf, 0o644)
    a = start()
    st = os.stat(SOCK)
    check("the socket: 0666, root's", stat.S_ISSOCK(st.st_mode) and
          stat.S_IMODE(st.st_mode) == 0o666 and st.st_uid == 0, oct(st.st_mode))
    check("its directory made 0755", stat.S_IMODE(os.stat(os.path.dirname(SOCK)).st_mode) == 0o755)
    s, b = curl([], "PUT", "/vms/vm1/sla", SLA)
    check("root: PUT with no token", s == 200, (s, b))
    s, b = curl(AS_MEMBER, "PUT", "/vms/vm2/sla", SLA)
    check("uid 65534 in group %d: PUT" % GID, s == 200, (s, b))
    s, b = curl(AS_OTHER, "PUT", "/vms/vm3/sla", SLA)
    check("uid 65534 outside it: PUT refused, 403 saying who may",
          s == 403 and "root or group %d may" % GID in b, (s, b))
    s, b = curl(AS_OTHER, "DELETE", "/vms/vm1/sla")
    check("... DELETE refused, 403", s == 403, (s, b))
    s, b = curl(AS_OTHER, "GET", "/vms/vm2/sla")
    check("... reads", s == 200 and json.loads(b)["priority"] == 2, (s, b))
    s, b = curl([], "GET", "/vms/vm1/sla")
    check("root's PUT in force", s == 200 and json.loads(b)["priority"] == 2, (s, b))

    r = ctl([], "sla", "set", "vm3", "--priority", "5")
    check("dbavmctl as root, no token file, the socket from the agent's configuration",
          r.returncode == 0, r.stdout + r.stderr)
    check("... in force", json.loads(curl([], "GET", "/vms/vm3/sla")[1])["priority"] == 5)
    r = ctl(AS_OTHER, "sla", "set", "vm3", "--priority", "6")
    check("dbavmctl as uid 65534 outside the group: refused, exit 1, the 403 said",
          r.returncode == 1 and "403" in r.stderr, (r.returncode, r.stderr))
    r = ctl(AS_OTHER, "vms")
    check("... reads", r.returncode == 0 and "vm3" in r.stdout, (r.returncode, r.stderr))

    # A client that sends its request head slowly over the socket is closed, and counted as
    # over TCP (the counter read TCP's listener alone)
    def closed():
        m = curl([], "GET", "/metrics")[1]
        return sum(float(l.split()[-1]) for l in m.splitlines()
                   if l.startswith("dbavm_http_connections_closed_total{"))
    before = closed()
    slow = socket.socket(socket.AF_UNIX)
    slow.settimeout(10)
    slow.connect(SOCK)
    slow.sendall(b"GET /vms HTTP/1.1\r\nHo")
    ended = slow.recv(1) == b""  # the agent closes it: 2 s under 256 bytes a second
    slow.close()
    check("a slow request head over the socket: closed by the agent", ended)
    check("... and counted in dbavm_http_connections_closed_total (%d -> %d)" %
          (before, closed()), closed() == before + 1)

    a.kill()  # SIGKILL (timeout's child goes with it: kill the agent itself)
    a.wait()
    subprocess.run(["pkill", "-KILL", "-f", SOCK])
    # Gone when nobody listens any more: a dying process leaves pgrep's sight (its memory is
    # released) before its files are closed, longer so under AddressSanitizer.
    wait_for(lambda: not listening(), 10)
    check("a socket left behind by SIGKILL", stat.S_ISSOCK(os.stat(SOCK).st_mode))
    b = start("--auth-reads")
    check("... replaced at the next start", b.poll() is None and
          curl([], "GET", "/readyz")[0] == 200, output(b)[-500:])
    s, _ = curl(AS_OTHER, "GET", "/vms")
    check("--auth-reads: the outsider's read refused (403)", s == 403, s)
    check("... /healthz still answered", curl(AS_OTHER, "GET", "/healthz")[0] == 200)
    check("... the member reads", curl(AS_MEMBER, "GET", "/vms")[0] == 200)
    c = start(wait=False)
    check("a second agent on the same socket does not start",
          wait_for(lambda: c.poll() is not None, 10) and c.returncode != 0, output(c)[-300:])
    check("... and the first's socket still answers", curl([], "GET", "/healthz")[0] == 200)
    b.terminate()
    check("SIGTERM: exit status 0", b.wait(timeout=20) == 0)
    check("... the socket removed", not os.path.exists(SOCK))

    with open(SOCK, "w") as f:
        f.write("not a socket\n")
    d = start(wait=False)
    check("a regular file where the socket goes: the agent does not start",
          wait_for(lambda: d.poll() is not None, 10) and d.returncode != 0, output(d)[-300:])
    check("... and the file stays", open(SOCK).read() == "not a socket\n")


run_test(main, work, procs)
