#!/usr/bin/env python3
"""A throwaway PostgreSQL server for a test: initdb in a temporary directory,
pg_ctl start on 127.0.0.1 with a free port and a Unix socket in that
directory, a wait until it answers, then its URL; stopped and removed on exit,
on an exception, and (best effort) when the test process is killed.

As a module (tests/integration/*.py add tests/tools to sys.path):

    import pgtemp
    with pgtemp.server() as pg:             # password=... for password auth
        pg.url                              # postgresql://ridepred@127.0.0.1:PORT/ridepred
        pg.socket_url                       # the same over the Unix socket
        pg.query("SELECT 1")                # rows as lists of str, None for NULL (psql)
        pg.restart()                        # same port and data; connections are dropped

    pgtemp.find_bin("initdb") is None       # -> PostgreSQL is not installed (skip: rptest.skip)

As a command:

    tests/tools/pgtemp.py [--password PW] -- CMD ARGS...
        runs CMD with PGTEMP_URL and RIDEPRED_MONITOR_DB set to the URL, then
        removes the server; exits with CMD's status
    tests/tools/pgtemp.py [--password PW]
        prints the URL and keeps the server until SIGINT/SIGTERM

Binaries: initdb, pg_ctl, postgres from the newest /usr/lib/postgresql/*/bin
(Debian's postgresql package), else PATH; psql from PATH (postgresql-client)
or the same folder.  PostgreSQL refuses to run as root: when the caller is
root, the server runs as the `postgres` user (else `nobody`) through setpriv,
in a directory handed to that user.  Settings for speed, not safety:
fsync=off, synchronous_commit=off, full_page_writes=off.

Cleanup when killed: a watchdog process (this file with --watchdog) polls the
test's pid and stops the server and removes the directory once the test is
gone, so even `kill -9` of the test leaves nothing running for long.
"""

import contextlib
import csv
import glob
import io
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

USER = "ridepred"
DBNAME = "ridepred"


def _version_key(path):
    m = re.search(r"/postgresql/([0-9.]+)/bin", path)
    return [int(x) for x in m.group(1).split(".")] if m else [0]


def find_bin(name):
    """The path of a PostgreSQL program, or None when it is not installed."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for d in dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def missing():
    """None when initdb, pg_ctl and psql are all there, else a sentence saying what to install."""
    lacking = [n for n in ("initdb", "pg_ctl", "postgres", "psql") if not find_bin(n)]
    if lacking:
        return (f"PostgreSQL is not installed ({', '.join(lacking)} not found under /usr/lib/postgresql/*/bin "
                "or PATH): apt-get install postgresql")
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as():
    """(prefix of argv, uid, gid) to run a server program: setpriv to a
    non-root user when we are root, nothing otherwise."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [setpriv, f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"], pw.pw_uid, pw.pw_gid
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", name, "--"], pw.pw_uid, pw.pw_gid
    raise RuntimeError("PostgreSQL refuses to run as root and there is no postgres/nobody user nor "
                       "setpriv/runuser to run it as one: run the test as another user")


class Server:
    """One temporary server; see the module's docstring.  start() and stop()
    are what server() calls; stop() is safe to call twice."""

    def __init__(self, user=USER, password=None, dbname=DBNAME, quiet=True):
        self.user, self.password, self.dbname, self.quiet = user, password, dbname, quiet
        self.dir = self.data = self.port = None
        self.watchdog = None
        self._as, self._uid, self._gid = _run_as()

    # ---- URLs ---------------------------------------------------------------
    @property
    def url(self):
        auth = urllib.parse.quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + urllib.parse.quote(self.password, safe="")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def socket_url(self):
        auth = urllib.parse.quote(self.user, safe="")
        if self.password is not None:
            auth += ":" + urllib.parse.quote(self.password, safe="")
        return f"postgresql://{auth}@/{self.dbname}?host={urllib.parse.quote(self.dir, safe='')}&port={self.port}"

    # ---- life ---------------------------------------------------------------
    def _cmd(self, argv, check=True, timeout=120):
        r = subprocess.run(self._as + argv, cwd=self.dir, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])} failed ({r.returncode}): "
                               f"{(r.stderr or r.stdout)[-2000:]}")
        return r

    def start(self):
        why = missing()
        if why:
            raise RuntimeError(why)
        self.dir = tempfile.mkdtemp(prefix="pgtemp-")
        try:
            os.chmod(self.dir, 0o700)
            if self._uid is not None:
                os.chown(self.dir, self._uid, self._gid)
            self.data = os.path.join(self.dir, "data")
            argv = [find_bin("initdb"), "-D", self.data, "-U", self.user, "--encoding=UTF8", "--locale=C",
                    "--no-sync", "--auth-local=trust"]
            if self.password is None:
                argv.append("--auth-host=trust")
            else:
                pwfile = os.path.join(self.dir, "pw")
                with open(pwfile, "w") as fh:
                    fh.write(self.password + "\n")
                if self._uid is not None:
                    os.chown(pwfile, self._uid, self._gid)
                argv += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
            self._cmd(argv)
            if self.password is not None:
                os.unlink(os.path.join(self.dir, "pw"))
            self._start_watchdog()
            for attempt in range(5):
                self.port = _free_port()
                if self._pg_ctl_start(check=attempt == 4):
                    break
            self._wait_ready()
            self._createdb()
        except BaseException:
            self.stop()
            raise
        return self

    def _pg_ctl_start(self, check):
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40 "
                "-c shared_buffers=16MB -c log_min_messages=warning")
        log = os.path.join(self.dir, "server.log")
        r = self._cmd([find_bin("pg_ctl"), "-D", self.data, "-l", log, "-w", "-t", "60", "-o", opts, "start"],
                      check=False)
        if r.returncode != 0:
            if check:
                raise RuntimeError(f"pg_ctl start failed: {r.stderr[-1000:]}\n{self.log()[-2000:]}")
            return False
        return True

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([find_bin("psql"), "-X", "-q", "-h", self.dir, "-p", str(self.port), "-U",
                                self.user, "-d", "postgres", "-c", "SELECT 1"], capture_output=True, text=True,
                               timeout=30)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not answer within {timeout} s: {r.stderr}\n{self.log()[-2000:]}")
            time.sleep(0.1)

    def _createdb(self):
        if self.dbname != "postgres":
            self.query(f'CREATE DATABASE "{self.dbname}"', db="postgres")

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def restart(self):
        """Stops the server (fast: connections are dropped) and starts it again
        on the same port with the same data."""
        self._cmd([find_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"])
        self._pg_ctl_start(check=True)
        self._wait_ready()

    def stop(self):
        if self.dir is None:
            return
        if self.data and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._cmd([find_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop"],
                      check=False)
        if self.watchdog is not None:
            with contextlib.suppress(OSError):
                self.watchdog.kill()
            with contextlib.suppress(Exception):
                self.watchdog.wait(timeout=10)
            self.watchdog = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def _start_watchdog(self):
        self.watchdog = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--watchdog", str(os.getpid()), self.dir, self.data]
            + self._as, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    # ---- queries --------------------------------------------------------------
    def query(self, sql, db=None):
        """Runs sql with psql over the socket; returns the rows of its last
        statement as lists of str, None for NULL.  Raises on an error."""
        r = subprocess.run([find_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", "-t", "-P",
                            "null=\\N", "-h", self.dir, "-p", str(self.port), "-U", self.user, "-d",
                            db or self.dbname, "-c", sql], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PGPASSWORD=self.password or ""))
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()}\n  for: {sql}")
        return [[None if c == "\\N" else c for c in row] for row in csv.reader(io.StringIO(r.stdout)) if row]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


@contextlib.contextmanager
def server(user=USER, password=None, dbname=DBNAME):
    """Starts a Server, yields it, and stops and removes it afterwards."""
    s = Server(user=user, password=password, dbname=dbname)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _watchdog(argv):
    ppid, tmpdir, data, as_prefix = int(argv[0]), argv[1], argv[2], argv[3:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        time.sleep(0.5)
        try:
            os.kill(ppid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            pass
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        subprocess.run(as_prefix + [find_bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                       cwd="/", capture_output=True, timeout=60)
    shutil.rmtree(tmpdir, ignore_errors=True)


def main(argv):
    if argv[:1] == ["--watchdog"]:
        _watchdog(argv[1:])
        return 0
    password = None
    cmd = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    while argv:
        if argv[0] == "--password" and len(argv) > 1:
            password, argv = argv[1], argv[2:]
        else:
            print("usage: pgtemp.py [--password PW] [-- CMD ARGS...]", file=sys.stderr)
            return 2
    why = missing()
    if why:
        print(f"pgtemp: {why}", file=sys.stderr)
        return 77
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    with server(password=password) as pg:
        if cmd:
            env = dict(os.environ, PGTEMP_URL=pg.url, RIDEPRED_MONITOR_DB=pg.url)
            try:
                return subprocess.run(cmd, env=env).returncode
            except KeyboardInterrupt:
                return 130
        print(pg.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
