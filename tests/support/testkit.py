"""What the Python integration tests share: a tally of checks printed as "ok"/"FAIL" lines,
timing checks that a sanitizer build prints instead of judging, a free loopback port, and a
wait for a condition.

  from testkit import check, timing, free_port, wait_for, stop, run_test

  run_test(main, work, procs)   # the test's last line
"""
import os
import shutil
import socket
import subprocess
import sys
import time

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
