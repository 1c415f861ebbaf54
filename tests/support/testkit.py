"""What the Python integration tests share: a tally of checks printed as "ok"/"FAIL" lines,
timing checks that a sanitizer build prints instead of judging, a free loopback port, and a
wait for a condition, and a dbavmd on the sim platform to call.

  from testkit import check, timing, free_port, wait_for, stop, run_test, SimAgent

  run_test(main, work, procs)   # the test's last line
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def _stopped(signum, frame):
    """SIGTERM or SIGHUP (ctest stopped, the run killed): an exit that unwinds, so that every
    finally and with block stops what the test started (servers, agents) and removes its
    scratch directory; Python's default for them ends the process where it is."""
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _stopped)
signal.signal(signal.SIGHUP, _stopped)

# Under AddressSanitizer (the sanitizer pass sets DBAVM_SANITIZED=1) the agent runs several
# times slower: timing is printed there, not judged; that pass is for memory.
TIMING = os.environ.get("DBAVM_SANITIZED") != "1"
tally = {"passed": 0, "failed": 0}


def check(what, cond, detail=""):
    if cond:
        tally["passed"] += 1
        print("ok  ", what, flush=True)
    else:
        tally["failed"] += 1
        print("FAIL", what + (": " + str(detail) if detail else ""), flush=True)


def timing(what, cond, detail=""):
    if TIMING:
        check(what, cond, detail)
    else:
        print("info (sanitizer build, timing not judged) %s: %s" % (what, "yes" if cond else "NO"),
              flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout_s, step=0.1):
    """pred's first true value within timeout_s, else its last value."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def stop(procs):
    """Stops each of the processes a test started (SIGTERM, which `timeout` passes on to its
    child; SIGKILL after 20 s), the last started first."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def finish():
    """Prints the tally and exits: failure when anything failed or nothing was checked."""
    print("%d passed, %d failed" % (tally["passed"], tally["failed"]))
    sys.exit(1 if tally["failed"] or not tally["passed"] else 0)


def run_test(main, work, procs=(), cleanup=None):
    """A test's end, however main() ends: its processes stopped, cleanup() called, its scratch
    directory removed (kept with DBAVM_KEEP=1, for a look), the tally printed and the exit."""
    try:
        main()
    finally:
        stop(procs)
        if cleanup:
            cleanup()
        if not os.environ.get("DBAVM_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    finish()


class SimAgent:
    """A dbavmd on the sim platform, on loopback, bounded by `timeout 120`, its output in
    WORK/TAG.log; ready (GET /readyz 200) within 10 s or its calls say why. ARGS: the options
    after --listen; ENV: its environment (default: this one)."""

    def __init__(self, dbavmd, work, procs, tag, token, args, env=None):
        self.port = free_port()
        self.token = token
        self.log = open(os.path.join(work, tag + ".log"), "w+")
        self.proc = subprocess.Popen(
            ["timeout", "120", dbavmd, "--platform", "sim", "--listen",
             "127.0.0.1:%d" % self.port] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        procs.append(self.proc)
        wait_for(lambda: self.call("GET", "/readyz")[0] == 200, 10)

    def call(self, method, path, body=None):
        """(status, parsed JSON or the raw body); status 0 when nothing answered."""
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                data = r.read()
                return r.status, json.loads(data) if data.startswith(b"{") else data
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
        except OSError as e:
            return 0, str(e)

    def vms(self):
        return {v["id"]: v for v in self.call("GET", "/vms")[1].get("vms", [])}

    def metric(self, name):
        for line in self.call("GET", "/metrics")[1].decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(timeout=20)
