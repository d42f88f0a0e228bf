"""What the integration scripts (tests/integration/*.py) share: where things
are, how a test that cannot run here skips, and the runner.

A script imports it from its own location (CTest runs it from anywhere):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
    import rptest  # noqa: E402

Where things are: the variables CTest and the Makefile set, else the layout
of a checkout beside ../shared:

    SRC       RIDEPRED_SOURCE_DIR, else the checkout holding this file
    BUILD     RIDEPRED_BUILD_DIR, else SRC/build
    BIN       RIDEPRED_BIN, else BUILD/ridepred (made absolute)
    FIXTURES  RIDEPRED_FIXTURES_DIR, else SRC/../shared/fixtures
    DATA      RIDEPRED_DATA_DIR, else SRC/../shared/data
    TOOLS     SRC/tests/tools (node_modules, the test tools' sources)

Skipping: a test that lacks what it needs (a fixture, the TLC data, node, a
Python package) prints `SKIP: why` and exits 77, which CTest shows as
skipped; when CI is set nothing may skip, so it prints `FAIL: ...` and exits
1 instead (skip(), the need_*() helpers, and Skip raised inside one test).

The runner (run()): RIDEPRED_TEST_ONLY=TEXT, or TEXT as an argument of the
script, runs only the tests whose label contains TEXT; each test gets a
fresh temporary directory when asked, removed after a pass and kept (its
path printed) after a failure; every test is timed; the run ends with
`N passed, N failed (T s)` and exits 0, 1 on any failure, or 77 when a test
was skipped and none failed.

Counting: check() counts one result per call, printed when it fails (and
when it passes unless the tally is quiet).  A test that made checks counts
those; a test that made none counts as one result, passed when it returns
and failed when it raises (the traceback is printed).
"""

import os
import re
import shutil
import sys
import tempfile
import time
import traceback

_HERE = os.path.dirname(os.path.abspath(__file__))

SRC = os.path.abspath(os.environ.get("RIDEPRED_SOURCE_DIR") or os.path.join(_HERE, os.pardir, os.pardir))
BUILD = os.environ.get("RIDEPRED_BUILD_DIR") or os.path.join(SRC, "build")
BIN = os.path.abspath(os.environ.get("RIDEPRED_BIN") or os.path.join(BUILD, "ridepred"))
FIXTURES = os.path.normpath(os.environ.get("RIDEPRED_FIXTURES_DIR") or os.path.join(SRC, os.pardir, "shared",
                                                                                   "fixtures"))
DATA = os.path.normpath(os.environ.get("RIDEPRED_DATA_DIR") or os.path.join(SRC, os.pardir, "shared", "data"))
TOOLS = os.path.join(SRC, "tests", "tools")
CI = bool(os.environ.get("CI"))
ONLY = os.environ.get("RIDEPRED_TEST_ONLY", "")


def say(msg=""):
    print(msg, flush=True)


# ---- skipping ----------------------------------------------------------------------

def skip(why):
    """Ends the script: SKIP (exit 77), or a failure (exit 1) when CI is set."""
    if CI:
        say(f"FAIL: {why} (CI is set: nothing may skip)")
        sys.exit(1)
    say(f"SKIP: {why}")
    sys.exit(77)


class Skip(Exception):
    """Raised inside a test run by run(): this test cannot run here (why).
    The others go on; the run then ends as skipped (77), or, when CI is set,
    the test counts as failed."""


def need_bin(path=None, what="the ridepred binary"):
    """Skips unless path (default BIN) is an executable file."""
    path = path or BIN
    if not os.access(path, os.X_OK):
        skip(f"{what} is not built: no executable {path} (make)")
    return path


def need_fixtures(*names):
    """FIXTURES/name for each name, or a skip naming what is missing."""
    paths = [os.path.join(FIXTURES, n) for n in names]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        skip(f"fixtures not found: {', '.join(missing)} (set RIDEPRED_FIXTURES_DIR)")
    return paths[0] if len(paths) == 1 else paths


def need_data(*names):
    """DATA/name for each name (the TLC trip files; a full path is taken as
    it is), or a loud skip."""
    paths = [os.path.join(DATA, n) for n in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        skip("*" * 20 + f" TLC data not found ({', '.join(missing)}): set RIDEPRED_DATA_DIR; "
             f"{os.path.basename(sys.argv[0])} NOT RUN " + "*" * 20)
    return paths[0] if len(paths) == 1 else paths


def node_missing(*packages):
    """Why node and the npm packages (tests/tools/node_modules) cannot be
    used here, or None when they can."""
    if not shutil.which("node"):
        return "node is not installed (scripts/deps test)"
    for pkg in packages:
        if not os.path.isdir(os.path.join(TOOLS, "node_modules", pkg)):
            return f"npm package {pkg} missing: cd tests/tools && npm ci"
    return None


def need_node(*packages):
    """Skips unless node and every npm package are installed."""
    why = node_missing(*packages)
    if why:
        skip(why)


# ---- counting and running ------------------------------------------------------------

class Tally:
    """Results of one script: checks and tests passed, failed, skipped."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = []       # labels of the tests that raised Skip
        self.quiet = False      # print only failed checks
        self.t0 = time.monotonic()

    def ok(self, label, quiet=None):
        """One passed result (printed unless quiet, default self.quiet)."""
        self.passed += 1
        if not (self.quiet if quiet is None else quiet):
            say(f"ok   {label}")

    def fail(self, label, detail=""):
        """One failed result: prints `FAIL label: detail` (detail cut at
        2,000 characters)."""
        self.failed += 1
        detail = str(detail)
        say(f"FAIL {label}" + (f": {detail[:2000]}" if detail else ""))

    def check(self, cond, label, detail=""):
        """One result: ok(label) when cond is true, else fail(label, detail).
        Returns cond."""
        if cond:
            self.ok(label)
        else:
            self.fail(label, detail)
        return cond

    def summary(self):
        s = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            s += f", {len(self.skipped)} skipped"
        return s + f" ({time.monotonic() - self.t0:.0f} s)"

    def finish(self):
        """Prints the summary and exits: 1 on any failure, 77 when a test was
        skipped, else 0."""
        say(self.summary())
        if self.failed:
            sys.exit(1)
        if self.skipped:
            say(f"SKIP: not run here: {', '.join(self.skipped)}")
            sys.exit(77)
        sys.exit(0)


tally = Tally()


def check(cond, label, detail=""):
    """tally.check: one result of the script."""
    return tally.check(cond, label, detail)


def selected(label):
    """True when RIDEPRED_TEST_ONLY and the script's arguments let label run."""
    wanted = [w for w in [ONLY] + sys.argv[1:] if w]
    return not wanted or any(w in label for w in wanted)


def _label(test):
    if isinstance(test, tuple):
        return test
    name = test.__name__
    for prefix in ("test_", "t_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name, test


def run_one(label, fn, *args, tmp_prefix=None, unavailable=None):
    """Runs fn(*args), or fn(tmp, *args) with a fresh temporary directory
    when tmp_prefix is given, unless it is not selected or unavailable(label)
    says why it cannot run here (then it counts as skipped).  Returns True
    unless it failed."""
    if not selected(label):
        return True
    why = unavailable(label) if unavailable else None
    t = tally
    before = (t.passed, t.failed)
    tmp = None
    if tmp_prefix and not why:
        tmp = tempfile.mkdtemp(prefix=tmp_prefix + re.sub(r"[^\w.-]+", "-", label) + "-")
    t0 = time.monotonic()
    ok = True
    try:
        if why:
            raise Skip(why)
        fn(*((tmp,) + args if tmp else args))
    except Skip as e:
        if CI:
            t.failed += 1
            ok = False
            say(f"FAIL {label}: skipped, but CI is set (nothing may skip): {e}")
        else:
            t.skipped.append(label)
            say(f"SKIP {label}: {e}")
    except Exception:  # noqa: BLE001 - every failure is reported
        t.failed += 1
        ok = False
        say(f"FAIL {label} ({time.monotonic() - t0:.1f} s)")
        traceback.print_exc()
        sys.stderr.flush()
    else:
        if (t.passed, t.failed) == before:
            t.passed += 1
        ok = t.failed == before[1]
        say(f"{'ok  ' if ok else 'FAIL'} {label} ({time.monotonic() - t0:.1f} s)")
    if tmp:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say(f"     files kept in {tmp}")
    return ok


def run(tests, *args, tmp_prefix=None, unavailable=None, finish=True):
    """Runs each test (a function, labelled by its name without test_ / t_,
    or a (label, function) pair) through run_one, then, when finish is
    true, ends the script with tally.finish()."""
    for test in tests:
        label, fn = _label(test)
        run_one(label, fn, *args, tmp_prefix=tmp_prefix, unavailable=unavailable)
    if finish:
        tally.finish()
