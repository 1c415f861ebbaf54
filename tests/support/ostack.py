"""A real Keystone and a real Placement, from Debian's packages (python3-keystone,
python3-placement), each on loopback with SQLite in a directory of their own, for the
agent's OpenStack tests and benchmark. Nothing here is mocked: the agent talks to the same
WSGI applications a cloud runs, behind a small proxy (Proxy) the tests use to slow Placement
down, take it away, or slip a concurrent write in before one of the agent's.

  with OpenStack(token_expiration=20) as os_:
      os_.placement("POST", "/resource_providers", {...})     # as the admin, like Nova

Keystone: keystone-manage db_sync (then WAL: without it Keystone's own open read
transactions lock out its writes on SQLite), fernet_setup, credential_setup, bootstrap;
keystone-wsgi-public. Users: admin (bootstrap), placement (Placement's own, for
keystonemiddleware), dbavm and dbavm2 (agents': admin role on project service, as Neutron's
[placement] user has). Placement: placement-manage db sync; placement-api, its
[keystone_authtoken] pointing at that Keystone, validations cached 5 s only (a revoked token
is refused within 5 s). Every process is started by this module, bounded by `timeout`,
and stopped by its PID.
"""
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from testkit import free_port  # noqa: E402

PLACEMENT_VERSION = "placement 1.37"


def make_ca(d, name):
    """A CA and a server certificate for 127.0.0.1 signed by it, made by openssl: returns
    (ca.pem, server.pem, server.key)."""
    ca_key, ca = os.path.join(d, name + "-ca.key"), os.path.join(d, name + "-ca.pem")
    key, csr, crt = (os.path.join(d, name + x) for x in ("-srv.key", "-srv.csr", "-srv.pem"))
    ext = os.path.join(d, name + "-srv.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n"
                "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n")
    for argv in (["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca, "-days",
                  "2", "-subj", "/CN=dbavm test CA " + name],
                 ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                 ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                  "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext]):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return ca, crt, key


def wait_http(port, path, deadline_s, proc=None, log=None):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("exited with %s; see %s" % (proc.returncode, log))
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("no answer on port %d within %d s; see %s" % (port, deadline_s, log))


class Proxy:
    """Forwards to Placement. Knobs: delay_s (each answer held that long), and
    before(method, path) -> None, called before a request is forwarded (the conflict test
    writes there). stop() closes the port (connection refused), start() opens it again."""

    def __init__(self, target_port, tls=None):
        """tls: (certfile, keyfile) to speak HTTPS."""
        self.target = target_port
        self.tls = tls
        self.port = free_port()
        self.delay_s = 0.0
        self.before = None
        self.seen = []
        self.server = None
        self.conns = set()
        self.start()

    def start(self):
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                proxy.conns.add(self.connection)

            def finish(self):
                proxy.conns.discard(self.connection)
                super().finish()

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                proxy.seen.append((self.command, self.path))
                if proxy.before:
                    proxy.before(self.command, self.path)
                if proxy.delay_s:
                    time.sleep(proxy.delay_s)
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "connection", "content-length")}
                try:
                    c = http.client.HTTPConnection("127.0.0.1", proxy.target, timeout=30)
                    c.request(self.command, self.path, body=body, headers=hdrs)
                    r = c.getresponse()
                    data = r.read()
                    status, rh = r.status, r.getheaders()
                    c.close()
                except OSError:
                    status, rh, data = 502, [], b'{"errors":[{"detail":"proxy: no placement"}]}'
                self.send_response(status)
                for k, v in rh:
                    if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = forward

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # a connection stop() cut, or the agent closing its own

        self.server = Server(("127.0.0.1", self.port), H)
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        """Placement gone: the port closed and every open connection cut."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class OpenStack:
    def __init__(self, token_expiration=3600, keep_dir=bool(os.environ.get("DBAVM_KEEP")),
                 neutron=False):
        self.dir = tempfile.mkdtemp(prefix="dbavm-openstack-")
        self.token_expiration = token_expiration
        self.keep_dir = keep_dir
        self.with_neutron = neutron
        self.procs = {}
        self.ks_port = free_port()
        self.pl_port = free_port()
        self.nt_port = free_port()
        self.proxy = None

    # ---- processes ----

    def _spawn(self, name, argv, env):
        log = open(os.path.join(self.dir, name + ".out"), "w")
        e = dict(os.environ)
        e.update(env)
        # bounded: a test that hangs still ends them
        p = subprocess.Popen(["timeout", "1800"] + argv, stdout=log, stderr=subprocess.STDOUT,
                             env=e, start_new_session=True)
        self.procs[name] = p
        return p

    def _stop(self, name):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def _run(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise RuntimeError("%s failed:\n%s" % (" ".join(argv), r.stderr[-2000:]))

    # ---- keystone ----

    def _keystone_conf(self):
        d = self.dir
        os.makedirs(d + "/fernet", exist_ok=True)
        os.makedirs(d + "/credential", exist_ok=True)
        conf = d + "/keystone.conf"
        with open(conf, "w") as f:
            f.write("[DEFAULT]\nlog_file = %s/keystone.log\n"
                    "[database]\nconnection = sqlite:///%s/keystone.db\n"
                    "[fernet_tokens]\nkey_repository = %s/fernet\n"
                    "[credential]\nkey_repository = %s/credential\n"
                    "[token]\nexpiration = %d\n"
                    # bcrypt's fewest rounds: every token costs a hash, and a 20 s token
                    # is "about to expire" (keystoneauth: < 120 s) for Placement's middleware,
                    # which then authenticates its own user again on each request
                    "[identity]\npassword_hash_rounds = 4\n"
                    % (d, d, d, d, self.token_expiration))
        return conf

    def start_keystone(self):
        conf = self._keystone_conf()
        km = ["keystone-manage", "--config-file", conf]
        self._run(km + ["db_sync"])
        db = sqlite3.connect(self.dir + "/keystone.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.close()
        self._run(km + ["fernet_setup", "--keystone-user", "root", "--keystone-group", "root"])
        self._run(km + ["credential_setup", "--keystone-user", "root", "--keystone-group",
                        "root"])
        self._run(km + ["bootstrap", "--bootstrap-password", "admin-pw",
                        "--bootstrap-public-url", self.keystone_url,
                        "--bootstrap-region-id", "RegionOne"])
        p = self._spawn("keystone", ["keystone-wsgi-public", "--host", "127.0.0.1", "--port",
                                     str(self.ks_port)], {"OS_KEYSTONE_CONFIG_FILES": conf})
        wait_http(self.ks_port, "/v3", 60, p, self.dir + "/keystone.out")

    @property
    def keystone_url(self):
        return "http://127.0.0.1:%d/v3" % self.ks_port

    def ks(self, method, path, body=None, token=None, expect=(200, 201, 204)):
        c = http.client.HTTPConnection("127.0.0.1", self.ks_port, timeout=30)
        h = {"Content-Type": "application/json"}
        if token:
            h["X-Auth-Token"] = token
        c.request(method, "/v3" + path, body=json.dumps(body) if body is not None else None,
                  headers=h)
        r = c.getresponse()
        data = r.read()
        tok = r.getheader("X-Subject-Token")
        c.close()
        if r.status not in expect:
            raise RuntimeError("keystone %s %s: %d %s" % (method, path, r.status, data[:300]))
        return (json.loads(data) if data else None), tok

    def token(self, user="admin", password="admin-pw", project="admin"):
        _, tok = self.ks("POST", "/auth/tokens", {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
        return tok

    def _id(self, kind, name, tok):
        doc, _ = self.ks("GET", "/%s?name=%s" % (kind, name), token=tok)
        return doc[kind][0]["id"]

    def add_users(self):
        t = self.token()
        self.ks("POST", "/projects", {"project": {"name": "service", "domain_id": "default"}},
                token=t)
        service = self._id("projects", "service", t)
        admin_role = self._id("roles", "admin", t)
        for name in ("placement", "neutron", "dbavm", "dbavm2"):
            doc, _ = self.ks("POST", "/users", {"user": {"name": name, "password": name + "-pw",
                                                         "domain_id": "default"}}, token=t)
            uid = doc["user"]["id"]
            self.ks("PUT", "/projects/%s/users/%s/roles/%s" % (service, uid, admin_role),
                    token=t)
        self.user_ids = {n: self._id("users", n, t)
                         for n in ("placement", "neutron", "dbavm", "dbavm2")}

    def register_placement(self, url, kind="placement"):
        """The catalog's endpoint (public) of a service, as a deployment tool registers it."""
        t = self.token()
        doc, _ = self.ks("POST", "/services", {"service": {"name": kind, "type": kind}},
                         token=t)
        self.ks("POST", "/endpoints", {"endpoint": {"service_id": doc["service"]["id"],
                                                    "interface": "public", "url": url,
                                                    "region_id": "RegionOne"}}, token=t)

    def revoke_tokens(self, user):
        """Disabling and enabling a user revokes every token Keystone issued to it."""
        t = self.token()
        uid = self.user_ids[user]
        self.ks("PATCH", "/users/%s" % uid, {"user": {"enabled": False}}, token=t)
        self.ks("PATCH", "/users/%s" % uid, {"user": {"enabled": True}}, token=t)

    # ---- placement ----

    def _placement_conf(self):
        d = self.dir + "/placement-etc"
        os.makedirs(d, exist_ok=True)
        with open(d + "/placement.conf", "w") as f:
            f.write("[DEFAULT]\nlog_file = %s/placement.log\n"
                    "[placement_database]\nconnection = sqlite:///%s/placement.db\n"
                    "[api]\nauth_strategy = keystone\n"
                    "[keystone_authtoken]\nwww_authenticate_uri = %s\nauth_url = %s\n"
                    "auth_type = password\nusername = placement\npassword = placement-pw\n"
                    "project_name = service\nuser_domain_name = Default\n"
                    "project_domain_name = Default\ntoken_cache_time = 5\ninterface = public\n"
                    % (self.dir, self.dir, self.keystone_url, self.keystone_url))
        return d

    def start_placement(self, first=True):
        d = self._placement_conf()
        env = {"OS_PLACEMENT_CONFIG_DIR": d}
        if first:
            r = subprocess.run(["placement-manage", "--config-file", d + "/placement.conf", "db", "sync"], capture_output=True,
                               text=True, timeout=300, env=dict(os.environ, **env))
            if r.returncode:
                raise RuntimeError("placement-manage db sync failed:\n" + r.stderr[-2000:])
        p = self._spawn("placement", ["placement-api", "--host", "127.0.0.1", "--port",
                                      str(self.pl_port)], env)
        wait_http(self.pl_port, "/", 60, p, self.dir + "/placement.out")

    def stop_placement(self):
        self._stop("placement")

    def placement(self, method, path, body=None, expect=(200, 201, 204), direct=True):
        port = self.pl_port if direct else self.proxy.port
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        h = {"X-Auth-Token": self.admin_token(), "OpenStack-API-Version": PLACEMENT_VERSION,
             "Accept": "application/json"}
        if body is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        if expect is not None and r.status not in expect:
            raise RuntimeError("placement %s %s: %d %s" % (method, path, r.status, data[:400]))
        return r.status, (json.loads(data) if data else None)

    def admin_token(self):
        now = time.monotonic()
        if not getattr(self, "_admin", None) or now > self._admin[1]:
            self._admin = (self.token(), now + min(10, self.token_expiration / 3))
        return self._admin[0]

    # ---- neutron ----

    def _neutron_conf(self):
        d = self.dir + "/neutron-etc"
        os.makedirs(d, exist_ok=True)
        auth = ("www_authenticate_uri = %s\nauth_url = %s\nauth_type = password\n"
                "project_name = service\nuser_domain_name = Default\n"
                "project_domain_name = Default\n" % (self.keystone_url, self.keystone_url))
        with open(d + "/neutron.conf", "w") as f:
            f.write("[DEFAULT]\nlog_file = %s/neutron.log\nbind_host = 127.0.0.1\n"
                    "bind_port = %d\ncore_plugin = ml2\nservice_plugins = qos\n"
                    "auth_strategy = keystone\ntransport_url = fake://\n"
                    "api_workers = 0\nrpc_workers = 0\nrpc_state_report_workers = 0\n"
                    "api_paste_config = /etc/neutron/api-paste.ini\n"
                    # the agent row the test writes is its only report: never "down"
                    "agent_down_time = 86400\n"
                    "notify_nova_on_port_status_changes = false\n"
                    "notify_nova_on_port_data_changes = false\n"
                    "[database]\nconnection = sqlite:///%s/neutron.db\n"
                    "[keystone_authtoken]\n%susername = neutron\npassword = neutron-pw\n"
                    "token_cache_time = 5\ninterface = public\n"
                    "[oslo_concurrency]\nlock_path = %s/lock\n"
                    "[quotas]\nquota_port = -1\n"  # the benchmark's 1,000 ports
                    "[ml2]\ntype_drivers = flat,vlan\ntenant_network_types =\n"
                    "mechanism_drivers = openvswitch\nextension_drivers = port_security,qos\n"
                    "[ml2_type_flat]\nflat_networks = *\n"
                    "[ml2_type_vlan]\nnetwork_vlan_ranges = physnet2:100:200\n"
                    % (self.dir, self.nt_port, self.dir, auth, self.dir))
        return d + "/neutron.conf"

    def start_neutron(self, first=True):
        """neutron-server on SQLite without a message bus (transport fake://): its schema made
        from its models, as Neutron's own unit tests make it (neutron-db-manage's migrations
        do not run on SQLite), then stamped."""
        conf = self._neutron_conf()
        if first:
            db = "sqlite:///%s/neutron.db" % self.dir
            r = subprocess.run(
                ["/usr/bin/python3", "-c",
                 "import sys, sqlalchemy\n"
                 "from neutron.db.migration.models import head\n"
                 "e = sqlalchemy.create_engine(sys.argv[1])\n"
                 "head.get_metadata().create_all(e)\n", db],
                capture_output=True, text=True, timeout=300)
            if r.returncode:
                raise RuntimeError("neutron's schema:\n" + r.stderr[-2000:])
            self._run(["neutron-db-manage", "--config-file", conf, "stamp", "heads"])
            db = sqlite3.connect(self.dir + "/neutron.db")
            db.execute("PRAGMA journal_mode=WAL")
            db.close()
        p = self._spawn("neutron", ["neutron-server", "--config-file", conf], {})
        wait_http(self.nt_port, "/", 120, p, self.dir + "/neutron.out")

    def stop_neutron(self):
        self._stop("neutron")

    def neutron_agent(self, host, bridge_mappings):
        """The row an Open vSwitch agent's report leaves for host: what makes ML2 bind the
        host's ports (there is no agent and no bus here)."""
        import uuid
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        conf = {"bridge_mappings": bridge_mappings, "tunnel_types": [],
                "ovs_hybrid_plug": False, "datapath_type": "system",
                "supported_pnic_types": ["normal"]}
        db = sqlite3.connect(self.dir + "/neutron.db", timeout=30)
        db.execute("INSERT INTO agents (id, agent_type, \"binary\", topic, host, "
                   "admin_state_up, created_at, started_at, heartbeat_timestamp, "
                   "configurations, load) VALUES (?,?,?,?,?,1,?,?,?,?,0)",
                   (str(uuid.uuid4()), "Open vSwitch agent", "neutron-openvswitch-agent",
                    "N/A", host, now, now, now, json.dumps(conf)))
        db.commit()
        db.close()

    def neutron(self, method, path, body=None, expect=(200, 201, 204)):
        """Neutron's API as the admin (the operator); returns (status, document)."""
        c = http.client.HTTPConnection("127.0.0.1", self.nt_port, timeout=60)
        h = {"X-Auth-Token": self.admin_token(), "Accept": "application/json"}
        if body is not None:
            h["Content-Type"] = "application/json"
        c.request(method, "/v2.0" + path, body=json.dumps(body) if body is not None else None,
                  headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        if expect is not None and r.status not in expect:
            raise RuntimeError("neutron %s %s: %d %s" % (method, path, r.status, data[:400]))
        return r.status, (json.loads(data) if data else None)

    # ---- the whole ----

    def start(self):
        self.start_keystone()
        self.add_users()
        self.start_placement()
        self.proxy = Proxy(self.pl_port)
        self.register_placement("http://127.0.0.1:%d" % self.proxy.port)
        if self.with_neutron:
            self.start_neutron()
            self.register_placement("http://127.0.0.1:%d" % self.nt_port, "network")
        return self

    def openrc(self, path, app_cred=None, cacert=None):
        """The agent's credentials file, as an operator keeps it (mode 0600)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# dbavm's OpenStack credentials\nexport OS_AUTH_URL=%s\n" % self.keystone_url)
            if app_cred:
                f.write("export OS_APPLICATION_CREDENTIAL_ID=%s\n"
                        "export OS_APPLICATION_CREDENTIAL_SECRET='%s'\n" % app_cred)
            else:
                f.write("export OS_USERNAME=dbavm\nexport OS_PASSWORD='dbavm-pw'\n"
                        "export OS_PROJECT_NAME=service\nexport OS_USER_DOMAIN_NAME=Default\n"
                        "OS_PROJECT_DOMAIN_NAME=\"Default\"\nexport OS_IDENTITY_API_VERSION=3\n"
                        "export OS_INTERFACE=public\nexport OS_REGION_NAME=RegionOne\n")
            if cacert:
                f.write("export OS_CACERT=%s\n" % cacert)
        return path

    def close(self):
        if self.proxy:
            self.proxy.stop()
        for name in list(self.procs):
            self._stop(name)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *a):
        self.close()
