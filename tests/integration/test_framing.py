#!/usr/bin/python3
"""HTTP framing as RFC 9112 wants it refused, byte for byte, against a real dbavmd (sim
platform, loopback): each case's exact bytes sent and bytes answered are printed.

  test_framing.py DBAVMD DATA_DIR

Refused with the JSON error and `Connection: close`, the connection then closed, nothing after
the head read (so a request smuggled in a body is never answered): both Transfer-Encoding and
Content-Length (400), `Transfer-Encoding : chunked` (whitespace before the colon, 400), a
coding other than chunked (501, at once, not at the request timeout), a bare CR in a value,
two Authorization headers, two Host headers, HTTP/1.1 without Host (400). HEAD answers as GET
without a body. An id with %2F is one id, not two segments. A malformed Content-Length is
answered by libmicrohttpd itself (status and connection closed checked; its HTML is what
dbavmd.8 says it is). Two requests on one keep-alive connection are both answered.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from testkit import check, free_port, run_test, wait_for  # noqa: E402

DBAVMD, DATA = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="dbavm-framing-test-")
procs = []
TOKEN = b"s3cret0123456789"


def raw(port, data, wait=3.0):
    """The bytes answered to data, and whether the agent closed the connection (EOF) before
    wait seconds passed."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.2)
    s.sendall(data)
    out, closed, end = b"", False, time.monotonic() + wait
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        if not b:
            closed = True
            break
        out += b
    s.close()
    return out, closed


def parse(answer):
    """[(status, headers dict, body)] of every response in answer (Content-Length framed)."""
    out = []
    while answer:
        head, sep, rest = answer.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdr[k.strip().lower().decode()] = v.strip().decode()
        n = int(hdr.get("content-length", "0"))
        out.append((status, hdr, rest[:n]))
        answer = rest[n:]
    return out


def case(port, what, data, status, says):
    answer, closed = raw(port, data)
    print("  sent:     %r\n  answered: %r%s" % (data, answer, " <closed>" if closed else ""))
    got = parse(answer)
    ok = (len(got) == 1 and got[0][0] == status and closed and
          got[0][1].get("connection") == "close" and
          got[0][1].get("content-type") == "application/json" and
          says in json.loads(got[0][2])["error"])
    check("%s: %d, the JSON error, Connection: close, one answer only, closed" % (what, status),
          ok, [(g[0], g[1], g[2]) for g in got])


def req(method, path, headers=b"", body=b""):
    return (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (method, path, headers)) + body


def main():
    with open(os.path.join(work, "token"), "wb") as f:
        f.write(TOKEN + b"\n")
    os.chmod(os.path.join(work, "token"), 0o600)
    port = free_port()
    log = open(os.path.join(work, "agent.log"), "w")
    agent = subprocess.Popen(
        ["timeout", "120", DBAVMD, "--platform", "sim", "--scenario",
         os.path.join(DATA, "paper-scenario1.json"), "--listen", "127.0.0.1:%d" % port,
         "--state-dir", os.path.join(work, "state"), "--token-file",
         os.path.join(work, "token")], stdout=subprocess.DEVNULL, stderr=log)
    procs.append(agent)
    def ready():
        try:
            return b" 200 " in raw(port, req(b"GET", b"/readyz"), 0.5)[0]
        except OSError:
            return False
    check("the agent is ready", wait_for(ready, 15))

    auth = b"Authorization: Bearer " + TOKEN + b"\r\nContent-Type: application/json\r\n"
    smuggled = req(b"GET", b"/healthz")
    print("== Transfer-Encoding and Content-Length, a request smuggled in the body")
    case(port, "TE and CL", req(b"PUT", b"/vms/vm1/sla", auth + b"Content-Length: %d\r\n"
                                b"Transfer-Encoding: chunked\r\n" % (5 + len(smuggled)),
                                b"0\r\n\r\n" + smuggled),
         400, "both Transfer-Encoding and Content-Length")
    print("== whitespace before the colon")
    case(port, "'Transfer-Encoding : chunked'",
         req(b"PUT", b"/vms/vm1/sla", auth + b"Transfer-Encoding : chunked\r\n",
             b"0\r\n\r\n" + smuggled), 400, "before its colon")
    print("== a transfer coding other than chunked")
    t = time.monotonic()
    case(port, "Transfer-Encoding: gzip", req(b"PUT", b"/vms/vm1/sla",
                                              auth + b"Transfer-Encoding: gzip\r\n"),
         501, "other than chunked")
    check("the unknown coding answered at once (%.2f s), not at the request timeout" %
          (time.monotonic() - t), time.monotonic() - t < 3.5)
    print("== a bare CR in a value")
    case(port, "bare CR", req(b"GET", b"/healthz", b"X-Note: a\rb\r\n"), 400, "bare CR")
    print("== two Authorization headers")
    case(port, "two Authorization", req(b"PUT", b"/vms/vm1/sla", auth +
                                        b"Authorization: Bearer other\r\nContent-Length: 2\r\n",
                                        b"{}"), 400, "several Authorization")
    print("== two Host headers")
    case(port, "two Host", req(b"GET", b"/healthz", b"Host: elsewhere\r\n"), 400,
         "several Host")
    print("== HTTP/1.1 without Host")
    case(port, "no Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400, "without a Host")

    print("== HEAD")
    answer, _ = raw(port, req(b"HEAD", b"/vms/vm1"), 1.0)
    print("  answered: %r" % answer)
    got = parse(answer.split(b"\r\n\r\n")[0] + b"\r\n\r\n") if answer else []
    check("HEAD /vms/vm1: 200, a length and no body", answer.startswith(b"HTTP/1.1 200") and
          answer.endswith(b"\r\n\r\n") and got and int(got[0][1]["content-length"]) > 0,
          answer)

    print("== %2F in an id")
    body = b'{"priority":1}'
    answer, _ = raw(port, req(b"PUT", b"/vms/a%2Fb/sla", auth + b"Content-Length: %d\r\n" %
                              len(body), body), 1.0)
    check("PUT /vms/a%2Fb/sla: 201, for one VM 'a/b'", answer.startswith(b"HTTP/1.1 201"),
          answer)
    answer, _ = raw(port, req(b"GET", b"/vms/a%2Fb"), 1.0)
    got = parse(answer)
    check("GET /vms/a%2Fb: the VM whose id is 'a/b'", got and got[0][0] == 200 and
          json.loads(got[0][2])["id"] == "a/b", answer)
    answer, _ = raw(port, req(b"GET", b"/vms/a/b/sla"), 1.0)
    check("GET /vms/a/b/sla: not that VM (404)", answer.startswith(b"HTTP/1.1 404"), answer)

    print("== a malformed Content-Length: libmicrohttpd's own answer")
    for cl in (b"-5", b"5, 5"):
        data = req(b"PUT", b"/vms/vm1/sla", b"Content-Length: " + cl + b"\r\n")
        answer, closed = raw(port, data)
        print("  sent:     %r\n  answered: %r%s" % (data, answer, " <closed>" if closed else ""))
        check("Content-Length: %s: 400, and the connection closed" % cl.decode(),
              answer.startswith(b"HTTP/1.1 400") and closed, answer)

    print("== keep-alive: two requests on one connection")
    answer, _ = raw(port, req(b"GET", b"/healthz") + req(b"GET", b"/healthz"), 1.0)
    check("both answered", [g[0] for g in parse(answer)] == [200, 200], answer)


run_test(main, work, procs)
