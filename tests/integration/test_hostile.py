#!/usr/bin/env python3
"""Hostile input against a real dbavmd (sim platform, loopback only): every row of issue 14's
table, as an attacker on the management network would send it, and a slowloris.

  test_hostile.py DBAVMD DATA_DIR

Rows: bad bytes in URLs and bodies (a JSON error, never 500); %00 in a path; NUL, blanks and a
FIFO as the token file; a FIFO as the state file; /readyz never quoting the state file; a 16 MB
body at a 10 ms period (parsed off the loop: no period missed); the errors libmicrohttpd
answers itself (their status, as openapi.yaml documents them). 120 slow clients from 127.0.0.1
itself while a fresh one from there is answered every second; a body a byte a second closed at
the request timeout. Then 200 slow clients, for
15 s and for 30 s, sending a header byte a second from 21 addresses of 127.0.0.0/8 (one opening 40):
a fresh client from 127.0.0.1 must get GET /healthz within 1 s throughout, and the loop (at
the default 100 ms period) must miss no period; once with room for them all (their heads' rate closes them), once at the
default --max-connections of 64 (the oldest is closed for each new one). Every agent it
starts is stopped by its PID; everything it makes is removed.
"""
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import free_port  # noqa: E402

DBAVMD, DATA = sys.argv[1], sys.argv[2]
SCENARIO = os.path.join(DATA, "paper-scenario1.json")
TOKEN = "s3cret0123456789"
passed = failed = 0
# Under AddressSanitizer (the sanitizer pass sets DBAVM_SANITIZED=1) the agent runs several
# times slower, and a 10 ms period is late now and then whatever the input (measured: 1 to 8
# late periods in 15 s of slow clients, 2 to 4 around the 16 MB body; none in 3 runs of the
# normal build). There the timing figures are printed, not judged: that pass is for memory.
TIMING = os.environ.get("DBAVM_SANITIZED") != "1"
work = tempfile.mkdtemp(prefix="dbavm-hostile-")
agents = []


def ok(what):
    global passed
    passed += 1
    print("ok  ", what, flush=True)


def bad(what):
    global failed
    failed += 1
    print("FAIL", what, flush=True)


def check(what, cond, detail=""):
    (ok if cond else bad)(what + ("" if cond or not detail else ": " + detail))


def timing(what, cond):
    if TIMING:
        check(what, cond)
    else:
        print("     (sanitized build, not judged) %s: %s" % (what, "yes" if cond else "NO"))


def token_file(name, content, mode=0o600):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


class Agent:
    def __init__(self, *args, state=None, wait=True):
        self.port = free_port()
        self.state = state or tempfile.mkdtemp(dir=work)
        self.log = open(os.path.join(work, "agent-%d.log" % self.port), "w+")
        self.proc = subprocess.Popen(
            [DBAVMD, "--platform", "sim", "--scenario", SCENARIO, "--listen",
             "127.0.0.1:%d" % self.port, "--state-dir", self.state, *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        agents.append(self)
        if wait:
            for _ in range(100):
                try:
                    if self.get("/healthz")[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.05)
            raise RuntimeError("the agent did not answer: " + self.output())

    def request(self, method, path, body=None, headers=None, timeout=5):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type"), data

    def get(self, path, timeout=5):
        return self.request("GET", path, timeout=timeout)

    def put(self, path, body, timeout=30):
        return self.request("PUT", path, body,
                            {"Authorization": "Bearer " + TOKEN,
                             "Content-Type": "application/json"}, timeout)

    def metric(self, name):
        for line in self.get("/metrics")[2].decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def json_error(what, status, ctype, data, want_status, field=None):
    """A JSON error answer with the status wanted (a set or one), and the field if given."""
    want = want_status if isinstance(want_status, set) else {want_status}
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    good = (status in want and ctype == "application/json" and isinstance(doc, dict)
            and isinstance(doc.get("error"), str)
            and (field is None or doc.get("field") == field))
    check(what, good, "%s %s %r" % (status, ctype, data[:200]))


def raw(port, data, wait=2.0):
    """Sends bytes as they are; returns all the server sent until it closed (or wait passed)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(wait)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def start_fails(what, *args, state=None):
    """The agent must refuse to start: exit 2 within 3 s, saying why."""
    a = Agent(*args, state=state, wait=False)
    try:
        rc = a.proc.wait(3)
    except subprocess.TimeoutExpired:
        rc = None
        a.stop()
    out = a.output().strip()
    check(what, rc == 2 and out != "", "exit %s, said %r" % (rc, out[:200]))
    return out


def rows():
    tok = token_file("token", TOKEN.encode() + b"\n")
    a = Agent("--token-file", tok, "--period", "10", "--max-body-bytes", "16777216")

    print("== bad bytes: a JSON error, never 500")
    json_error("GET /%ff", *a.get("/%ff"), 404)
    s, c, d = a.put("/vms/vm1/sla", json.dumps(
        {"priority": 1, "a" * 62 + "\u00e9": 1}, ensure_ascii=False).encode())
    json_error("PUT with an unknown key of 62 'a' and an e-acute", s, c, d, 400,
               field="a" * 62 + "\u00e9")
    policy = {"policy": {"rules": [{"type": "bandwidth_limit", "max_kbps": 1000,
                                    "direction": "\u00e9" * 100}]}}
    json_error("a Neutron rule whose direction is 100 e-acutes",
               *a.put("/vms/vm1/sla", json.dumps(policy, ensure_ascii=False).encode()), 400)
    json_error("GET /vms/ and 130 %C3%A9", *a.get("/vms/" + "%C3%A9" * 130), {400, 404})

    print("== %00 does not cut the path")
    before = a.get("/vms/vm3/sla")
    json_error("PUT /vms/vm3/sla%00junk",
               *a.put("/vms/vm3/sla%00junk", b'{"priority":1,"bandwidth":{"max_bps":1000}}'),
               404)
    check("vm3's SLA unchanged", a.get("/vms/vm3/sla") == before)

    print("== a 16 MB body at a 10 ms period: parsed off the loop")
    big = b'{"priority":1,"bandwidth":{"min_bps":1000,"max_bps":2000},"padding":[' + \
        b",".join([b'{"a":[1,2.5,"x",null,true]}'] * 560000) + b"]}"
    check("the body is 16 MB at most, and over 15", 15e6 < len(big) <= 16777216, str(len(big)))
    # A reference: a 10 ms timer in a process of its own, counting the whole periods it
    # missed meanwhile. A stall of the machine (a busy neighbour: one fresh-clone run saw the
    # agent miss 12 of 212 periods here, where three runs of the same code, and one of the
    # code before the snapshot, missed 0) stops it too; a stall of the agent's own making,
    # the loop busy, does not.
    ref = subprocess.Popen(
        ["perl", "-MTime::HiRes=time,sleep", "-e",
         '$|=1; my ($m, $due) = (0, time); $SIG{TERM} = sub { print "$m\\n"; exit 0 };'
         ' while (1) { $due += 0.01; my $w = $due - time; if ($w > 0) { sleep($w) }'
         ' elsif (-$w >= 0.01) { $m += int(-$w / 0.01); $due = time } }'],
        stdout=subprocess.PIPE)
    time.sleep(0.2)
    o0, t0 = a.metric("dbavm_loop_overruns_total"), a.metric("dbavm_loop_ticks_total")
    t = time.monotonic()
    s, c, d = a.put("/vms/vm1/sla", big)
    print("     the 16 MB PUT answered in %.2f s" % (time.monotonic() - t))
    json_error("answered: a 400 for its unknown field", s, c, d, 400, field="padding")
    o1, t1 = a.metric("dbavm_loop_overruns_total"), a.metric("dbavm_loop_ticks_total")
    ref.terminate()
    ref_missed = int(ref.communicate(timeout=5)[0] or b"-1")
    check("the reference timer ran and said how many periods it missed", ref_missed >= 0,
          str(ref_missed))
    # Parsed on the loop it cost 55-157 periods. Not 0: this 2-core VM delays a 10 ms
    # period by a whole period now and then whatever the agent does (an idle agent: 1 period
    # in 3,100 started 5-10 ms late; under load, 4 in 3,069 by 10 ms or more).
    timing("at most 2 periods missed meanwhile beyond what the machine's stalls cost a "
           "reference timer, where parsing on the loop missed 55-157 (overruns %d -> %d over "
           "%d periods; the reference missed %d)" % (o0, o1, t1 - t0, ref_missed),
           o1 - o0 <= 2 + max(ref_missed, 0) and t1 > t0)

    # The parser and the store's writer run below the loop's thread, at nice 19 and in the
    # normal policy (SCHED_IDLE starved them on a host busy with other work).
    helpers = {}
    for tid in os.listdir("/proc/%d/task" % a.proc.pid):
        with open("/proc/%d/task/%s/stat" % (a.proc.pid, tid)) as f:
            st = f.read()
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        helpers[name] = (int(fields[16]), int(fields[38]))  # nice, policy (0: SCHED_OTHER)
    check("the helper threads at nice 19, SCHED_OTHER; the loop's at 0",
          helpers.get("dbavm-worker") == (19, 0) and helpers.get("dbavm-store") == (19, 0) and
          helpers.get("dbavmd") == (0, 0), str(helpers))

    print("== what libmicrohttpd answers itself (openapi.yaml: 'Errors the HTTP library answers')")
    for what, req, status in [
            ("a Content-Length that is not a number", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: abc\r\n\r\n", 400),
            ("a Content-Length over 64 bits", b"PUT /vms/vm1/sla HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 99999999999999999999999\r\n\r\n", 413),
            ("a 40 KB URL", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("a 40 KB header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 40000 +
             b"\r\n\r\n", 431),
            ("HTTP/2.0 in the request line", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505)]:
        out = raw(a.port, req)
        line = out.split(b"\r\n", 1)[0].decode("latin-1")
        check("%s: %d" % (what, status), line.startswith("HTTP/1.1 %d " % status), repr(out[:120]))
    check("the agent still answers", a.get("/healthz")[0] == 200)
    check("the agent is still up", a.proc.poll() is None)
    a.stop()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "openapi.yaml")) as f:
        spec = f.read()
    check("openapi.yaml documents the library's own errors",
          all(("`%d`" % s) in spec for s in (400, 413, 414, 431, 505)))

    print("== token files")
    start_fails("a NUL in the token", "--token-file", token_file("tok-nul", b"s3\0cret\n"))
    start_fails("a token with a leading blank", "--token-file", token_file("tok-lead", b" s3cret0123456789\n"))
    start_fails("a token with a trailing blank", "--token-file",
                token_file("tok-trail", b"s3cret0123456789 \n"))
    fifo = os.path.join(work, "tok-fifo")
    os.mkfifo(fifo, 0o600)
    out = start_fails("a FIFO as the token file", "--token-file", fifo)
    check("... said so", "regular file" in out, out[:200])
    out = start_fails("a 15-byte token", "--token-file", token_file("tok-short", b"s3cret012345678\n"))
    check("... said so, and how to make one", "16 to" in out and "/dev/urandom" in out, out[:300])

    # StrictModes: what another user could swap or plant links in is refused at start (exit 2),
    # naming the part of the path that is wrong; the same with it put right starts.
    print("== the agent's own files and sockets")
    pub = tempfile.mkdtemp(dir=work)
    os.chmod(pub, 0o777)  # anyone may write in it, not sticky
    tok_pub = os.path.join(pub, "token")
    with open(tok_pub, "wb") as f:
        f.write(TOKEN.encode() + b"\n")
    os.chmod(tok_pub, 0o600)
    out = start_fails("a token file in a directory anyone can write", "--token-file", tok_pub)
    check("... said which directory", pub in out and "writable by others" in out, out[:300])
    os.chown(tok_pub, 65534, 65534)
    os.chmod(pub, 0o700)
    out = start_fails("a token file owned by another user", "--token-file", tok_pub)
    check("... said so", "owned by another user" in out, out[:300])
    os.chown(tok_pub, 0, 0)
    os.chmod(pub, 0o1777)  # sticky, as /tmp: nobody else can move root's token or state
    st_pub = os.path.join(pub, "state")
    out = start_fails("a state directory anyone can write", "--token-file", tok, state=pub)
    check("... said so", "writable by others" in out, out[:300])
    os.mkdir(st_pub, 0o700)
    os.chmod(st_pub, 0o770)
    out = start_fails("a state directory its group can write", "--token-file", tok, state=st_pub)
    check("... said so", "writable by its group" in out, out[:300])
    os.chmod(st_pub, 0o700)
    sock_dir = os.path.join(pub, "sock")
    os.mkdir(sock_dir)
    os.chmod(sock_dir, 0o1777)
    out = start_fails("--listen-unix in a directory anyone can write", "--token-file", tok_pub,
                      "--listen-unix", os.path.join(sock_dir, "api.sock"), state=st_pub)
    check("... said which", "--listen-unix's directory" in out and "writable by others" in out,
          out[:300])
    check("... and made no socket there", not os.path.exists(os.path.join(sock_dir, "api.sock")))
    os.chmod(sock_dir, 0o755)
    a = Agent("--token-file", tok_pub, "--listen-unix", os.path.join(sock_dir, "api.sock"),
              state=st_pub)
    mode = stat.S_IMODE(os.lstat(os.path.join(sock_dir, "api.sock")).st_mode)
    check("each put right (a sticky directory above them): started, the socket 0666",
          a.get("/readyz")[0] == 200 and mode == 0o666, "%s %o" % (a.get("/readyz")[0], mode))
    a.stop()

    # Issue 36: a store fault is shown until it is over. The state directory renamed away while
    # the agent runs: a PUT is refused (500, nothing changed), /readyz and /metrics say so;
    # back in place, the next PUT is stored and the agent is ready again. After a restart,
    # what was acknowledged is there and what was refused is not.
    print("== the state directory moved away while running")
    moved = tempfile.mkdtemp(dir=work)
    st_dir = os.path.join(moved, "state")
    a = Agent("--token-file", tok, state=st_dir)
    body = json.dumps({"priority": 1, "bandwidth": {"max_bps": 5000000}}).encode()
    check("a PUT before: stored", a.put("/vms/ghost1/sla", body)[0] in (200, 201))
    os.rename(st_dir, st_dir + ".away")
    s1 = a.put("/vms/ghost2/sla", body)
    check("a PUT with the directory away: 500, nothing changed", s1[0] == 500
          and b"nothing changed" in s1[2], "%s %r" % (s1[0], s1[2][:200]))
    check("... ghost2 (a VM not on the host) has no SLA", a.get("/vms/ghost2/sla")[0] == 404)
    s, c, d = a.get("/readyz")
    check("... /readyz not ready, saying the state directory cannot be written",
          s == 503 and b"state directory cannot be written" in d, "%s %r" % (s, d[:300]))
    check("... dbavm_state_writable 0, a failure counted, dbavm_ready 0",
          a.metric("dbavm_state_writable") == 0 and a.metric("dbavm_state_write_failures_total") >= 1
          and a.metric("dbavm_ready") == 0)
    check("... the log says moved or replaced", "state directory moved or replaced" in a.output())
    check("... and nothing was written in the moved directory",
          not any("ghost2" in open(os.path.join(st_dir + ".away", n), errors="replace").read()
                  for n in os.listdir(st_dir + ".away") if n.startswith("slas.")))
    os.rename(st_dir + ".away", st_dir)
    check("back in place: a PUT stored", a.put("/vms/ghost3/sla", body)[0] in (200, 201))
    check("... ready again, dbavm_state_writable 1",
          a.get("/readyz")[0] == 200 and a.metric("dbavm_state_writable") == 1)
    a.stop()
    a = Agent("--token-file", tok, state=st_dir)
    check("after a restart: ghost1 and ghost3 kept, ghost2 (refused) not",
          a.get("/vms/ghost1/sla")[0] == 200 and a.get("/vms/ghost3/sla")[0] == 200
          and a.get("/vms/ghost2/sla")[0] == 404)
    a.stop()

    print("== state files")
    state = tempfile.mkdtemp(dir=work)
    os.mkfifo(os.path.join(state, "slas.json"), 0o600)
    a = Agent("--token-file", tok, state=state)  # Agent() waits at most 5 s for /healthz
    s, c, d = a.get("/readyz")
    check("a FIFO as the state file: started, /readyz says it is unusable", s == 503
          and b"kept aside" in d, "%s %r" % (s, d[:300]))
    check("... and the FIFO is kept aside, not read",
          any(stat.S_ISFIFO(os.lstat(os.path.join(state, n)).st_mode)
              for n in os.listdir(state) if n.startswith("slas.json.corrupt")))
    a.stop()
    state = tempfile.mkdtemp(dir=work)
    with open(os.path.join(state, "slas.json"), "w") as f:
        f.write('{"version": 1, "slas": {"vm1": hunter2-is-my-password}}')
    a = Agent("--token-file", tok, "--auth-reads", state=state)
    s, c, d = a.get("/readyz")
    check("/readyz on an unusable state file, --auth-reads: says where, not what",
          s == 503 and b"line 1" in d and b"hunter" not in d, "%s %r" % (s, d[:300]))
    check("... nor does the log", "hunter" not in a.output())
    a.stop()


SLOW_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200


async def slow_client(port, stop, gap, local_addr=None, counts=None, lives=None, pause=0.5):
    """One slow client until stop: connects, sends SLOW_REQUEST a byte every `gap` s (reading
    meanwhile, so that a close is seen at once), and comes back `pause` s after it is closed
    or refused. counts: connections made, and refused or closed; lives: how long each lasted
    until the agent closed it."""
    while time.monotonic() < stop:
        w = None
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=local_addr), 1)
            if counts is not None:
                counts["connected"] += 1
            t0 = time.monotonic()
            for i in range(len(SLOW_REQUEST)):
                if time.monotonic() >= stop:
                    return
                w.write(SLOW_REQUEST[i:i + 1])
                await w.drain()
                try:
                    if await asyncio.wait_for(r.read(1), gap) == b"":
                        if lives is not None:
                            lives.append(time.monotonic() - t0)
                        raise ConnectionResetError
                except asyncio.TimeoutError:
                    pass
        except (OSError, asyncio.TimeoutError):
            if counts is not None:
                counts["refused or closed"] += 1
            await asyncio.sleep(pause)
        finally:
            if w:
                w.close()


def slowloris(seconds, *args, evict):
    """200 slow clients for `seconds`; a fresh client every 0.25 s must be answered within
    1 s, and the loop miss no period. Their heads' rate closes them (a byte a second); at 16
    from one address the oldest of it is closed for a new one, and with evict, more slow
    clients than --max-connections hold on and the oldest is closed for each new one."""
    print("== 200 slow clients for %d s (%s); a fresh one every 0.25 s" % (seconds, " ".join(args)))
    tok = token_file("token", TOKEN.encode() + b"\n")
    # At the default period, 100 ms: at 10 ms this 2-core VM itself delays a period by a whole
    # one now and then (4 in 3,069 with 200 slow clients; 1 in 3,100 started 5-10 ms late with
    # none); how late the periods were is printed below.
    a = Agent("--token-file", tok, "--request-timeout", "5", *args)
    stop = time.monotonic() + seconds
    counts = {"connected": 0, "refused or closed": 0}

    # One asyncio thread for all of them: 200 threads of their own, fighting for Python's
    # lock, took enough CPU from the 2-core host to delay the agent's periods by 5-10 ms.
    async def all_clients(addrs):
        await asyncio.gather(*(slow_client(a.port, stop, 1, (ad, 0), counts) for ad in addrs))

    # 40 from one address (over --max-connections-per-address, 16), 8 from each of 20 more.
    addrs = ["127.0.0.2"] * 40 + ["127.0.0.%d" % (3 + i // 8) for i in range(160)]
    clients = threading.Thread(target=lambda: asyncio.run(all_clients(addrs)), daemon=True)
    o0, t0 = a.metric("dbavm_loop_overruns_total"), a.metric("dbavm_loop_ticks_total")
    clients.start()
    worst, answered, asked = 0.0, 0, 0
    while time.monotonic() < stop:
        asked += 1
        t = time.monotonic()
        try:
            if a.get("/healthz", timeout=1 if TIMING else 5)[0] == 200:
                answered += 1
                worst = max(worst, time.monotonic() - t)
        except OSError as e:
            print("     fresh client at %.1f s: %s" % (seconds - (stop - t), e))
        time.sleep(0.25)
    clients.join(5)
    o1, t1 = a.metric("dbavm_loop_overruns_total"), a.metric("dbavm_loop_ticks_total")
    print("     slow clients: %(connected)d connections made, %(refused or closed)d refused or "
          "closed" % counts)
    check("every fresh GET /healthz answered (%d of %d)" % (answered, asked),
          answered == asked and asked >= seconds * 3)
    timing("every one within 1 s (the slowest: %.3f s)" % worst, worst < 1)
    timing("no period missed (overruns %d -> %d over %d periods)" % (o0, o1, t1 - t0),
           o1 == o0 and t1 - t0 >= seconds * 9)
    buckets = [(l.split('le="')[1].split('"')[0], float(l.split()[1]))
               for l in a.get("/metrics")[2].decode().splitlines()
               if l.startswith("dbavm_loop_lateness_seconds_bucket")]
    total = buckets[-1][1]
    print("     the loop's lateness since start: %d periods, %d within 1 ms, all within %s s"
          % (total, dict(buckets)["0.001000"], next(le for le, n in buckets if n == total)))
    # One period in 310 once started 25-100 ms late on this shared machine, with none missed:
    # a stall of the machine, not the loop's (the slow clients cost it nothing: 97 % within
    # 1 ms). Judged: 99 % within 25 ms, and no period missed (above).
    within = dict(buckets)["0.025000"]
    timing("99 %% of periods started within 25 ms of their time (%d of %d)" % (within, total),
           within >= 0.99 * total)
    log, cut = a.output(), closed_by_why(a)
    print("     closed by the agent, by why: %s" % cut)
    # (the log says at most five such lines a second: the counts are in /metrics)
    check("at 16 from one address, the slowest of it closed for a new one, counted",
          cut["address_limit"] > 0)
    if evict:
        check("at the connection limit, the slowest closed for a new one, counted",
              cut["connection_limit"] > 0)
    else:  # (at the limit, new ones close the slow ones before their 2 s are out)
        check("slow heads closed for their rate, counted", cut["slow_head"] > 0)
        # (with evict, the lines of the connection limit take the five a second)
        check("... and the address's closes logged",
              "why=\"the slowest still sending its request, at the limit of its address\"" in log)
    check("the agent is still up", a.proc.poll() is None)
    rc = a.stop()
    check("exit status 0 on SIGTERM", rc == 0, str(rc))


def closed_by_why(a):
    """dbavm_http_connections_closed_total by its why label."""
    return {w: int(a.metric('dbavm_http_connections_closed_total{why="%s"}' % w))
            for w in ("request_timeout", "slow_head", "address_limit", "connection_limit")}


def local_slowloris(seconds=12):
    """Issue 27's case: 200 slow connections from 127.0.0.1 itself, each sending a header byte
    every 0.9 s and coming back when closed. A fresh GET /healthz from 127.0.0.1 every 0.25 s
    must be answered every time within 1 s (the per-address limit closes the slowest of that
    address rather than refusing the newcomer), no control period may be missed meanwhile, and
    each slow connection must be closed in seconds, not at the request timeout (10 s)."""
    print("== 200 slow clients from 127.0.0.1 for %d s; a fresh one from there every 0.25 s"
          % seconds)
    a = Agent()
    stop = time.monotonic() + seconds
    lives = []

    async def all_clients():
        await asyncio.gather(*(slow_client(a.port, stop, 0.9, lives=lives, pause=0)
                               for _ in range(200)))

    overruns0 = a.metric("dbavm_loop_overruns_total")
    clients = threading.Thread(target=lambda: asyncio.run(all_clients()), daemon=True)
    clients.start()
    time.sleep(1)
    answered, asked, worst = 0, 0, 0.0
    while time.monotonic() < stop - 1:
        asked += 1
        t = time.monotonic()
        try:
            if a.get("/healthz", timeout=1)[0] == 200:
                answered += 1
                worst = max(worst, time.monotonic() - t)
        except OSError as e:
            print("     fresh client: %s" % e)
        time.sleep(max(0.0, 0.25 - (time.monotonic() - t)))
    clients.join(5)
    overruns = a.metric("dbavm_loop_overruns_total") - overruns0
    lives.sort()
    check("every fresh GET /healthz from 127.0.0.1 answered within 1 s (%d of %d, the slowest "
          "%.3f s)" % (answered, asked, worst),
          answered == asked and asked >= 4 * (seconds - 3) and worst < 1)
    check("no control period missed meanwhile (overruns: %d)" % overruns, overruns == 0)
    check("slow connections closed: %d, in %.1f s at the median, %.1f s at the most"
          % (len(lives), lives[len(lives) // 2] if lives else 0, lives[-1] if lives else 0),
          len(lives) >= 200 and lives[-1] < 6)
    log, cut = a.output(), closed_by_why(a)
    print("     closed by the agent, by why: %s" % cut)
    check("the slowest of 127.0.0.1 closed for a new one, counted and logged",
          cut["address_limit"] > 0 and
          "why=\"the slowest still sending its request, at the limit of its address\"" in log)
    a.stop()


def slow_body():
    """A head sent at once and a body a byte a second: the request timeout (3 s) closes it."""
    print("== a body a byte a second: closed at the request timeout")
    a = Agent("--request-timeout", "3")
    s = socket.create_connection(("127.0.0.1", a.port))
    s.sendall(b"PUT /vms/vm1/sla HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    t0, closed = time.monotonic(), False
    s.settimeout(1)
    while time.monotonic() - t0 < 8:
        try:
            s.sendall(b"{")
            if s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    took = time.monotonic() - t0
    s.close()
    check("closed after %.1f s (the request timeout: 3 s)" % took, closed and 2.5 <= took <= 5)
    check("counted and logged", closed_by_why(a)["request_timeout"] == 1 and
          "why=\"its request was not in within the request timeout\"" in a.output())
    a.stop()


# Stopped (SIGTERM, SIGHUP): unwind, so that the finally below stops the agents.
for sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))

try:
    rows()
    local_slowloris()
    slow_body()
    slowloris(15, "--max-connections", "256", evict=False)
    slowloris(30, evict=True)
except Exception as e:  # a failure to run is a failure, never a pass
    bad("the test could not run: %r" % e)
finally:
    for ag in agents:
        ag.stop()
    if failed:
        for ag in agents[-1:]:
            print("the last agent's log:\n" + ag.output()[-3000:])
    shutil.rmtree(work, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
