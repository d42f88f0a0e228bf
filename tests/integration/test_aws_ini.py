"""Compare our reading of the AWS shared files with botocore's.

Generates a fixed, seeded set of small INI files from the pieces that
configparser treats specially -- section headers (odd ones included:
"[ s ]", "[a]]", "[]", "[DEFAULT]", trailing text), "key = value" and
"key: value" lines with blanks, tabs and Unicode spaces around the
delimiter, values holding '#', ';', '=' and ':', comment lines (indented
too), blank lines, indented continuation lines and nested blocks, lines
that are none of these, duplicates, \\n / \\r\\n / \\r line ends, control
characters, a byte-order mark, invalid UTF-8 -- and reads each with
botocore.configloader.raw_config_parse (Debian's python3-botocore) and with
our parser (aws_creds_cli --ini, all files in one run).  Both must accept
or refuse the same files, and the accepted ones must give the same
sections, keys and values (including what [DEFAULT] passes on).

Prints "N passed, N failed" (counting files); exits 1 on any difference.
The driver is $RIDEPRED_BUILD_DIR/aws_creds_cli (default: build/).
"""

import json
import os
import random
import subprocess
import sys
import tempfile

if not sys.flags.utf8_mode and os.environ.get("PYTHONUTF8") != "1":
    # configparser reads with the locale's encoding; ~/.aws files are UTF-8.
    os.environ["PYTHONUTF8"] = "1"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

try:
    import botocore.configloader
    from botocore.exceptions import ConfigParseError
except ImportError:  # pragma: no cover
    rptest.skip("botocore is not installed (Debian: python3-botocore)")

SEED = 20240918
N_FILES = 4000
SHOW = 10

CLI = os.path.join(rptest.BUILD, "aws_creds_cli")

SECTIONS = ["[default]", "[profile dev]", "[profile \"two words\"]", "[profile  dev ]", "[ s ]",
            "[a]]", "[]", "[DEFAULT]", "[x] trailing", "[prod]", "[sso-session s]", "[profile]",
            "[profile 'q]"]
KEYS = ["aws_access_key_id", "aws_secret_access_key", "Region", "REGION", "s3", "output",
        "k", "k k", "Key.With.Dots", "", "a-b"]
DELIMS = ["=", ":", " = ", " : ", "\t=\t", "  =", "=  ", "\u00a0=\u00a0", "\u3000:"]
VALUES = ["v", "", "us-east-1", "a # not a comment", "a ; b", "x=y", "x:y", "  padded  ",
          "caf\u00e9", "\u00a0nbsp\u00a0", "tab\tinside", "form\x0cfeed", "fs\x1csep",
          "ls\u2028sep", "text\u0085nel", "%(interp)s", "\"quoted\""]
BLANKS = ["", " ", "  ", "\t", " \t", "\u00a0", "\u3000"]


def line(rng):
    r = rng.random()
    if r < 0.15:
        return rng.choice(BLANKS) * rng.randrange(0, 2) + rng.choice(SECTIONS)
    if r < 0.6:
        indent = rng.choice(BLANKS) if rng.random() < 0.2 else ""
        key = rng.choice(KEYS) + rng.choice(["", "", str(rng.randrange(1000))])
        return indent + key + rng.choice(DELIMS) + rng.choice(VALUES)
    if r < 0.72:
        return rng.choice(BLANKS) + rng.choice(["#", ";"]) + " comment " + rng.choice(VALUES)
    if r < 0.82:
        return rng.choice(BLANKS)
    if r < 0.98:  # a continuation or a nested line
        indent = rng.choice(["  ", "    ", "\t", " \u00a0"])
        return indent + rng.choice(["word", "k = v", "addressing_style = path", "k = v", "x:y",
                                    "# c", rng.choice(VALUES)])
    return rng.choice(["just words", "k", "[unclosed", "= v", ":"])


def make_file(rng):
    lines = []
    if rng.random() < 0.9:
        lines.append(rng.choice(["[default]", "[profile dev]", "[DEFAULT]"]))
    for _ in range(rng.randrange(0, 14)):
        lines.append(line(rng))
    if rng.random() < 0.3:  # a plausible nested block
        lines += ["s3 =", "  addressing_style = path", "  signature_version = s3v4"]
    eol = rng.choice(["\n", "\n", "\r\n", "\r"])
    text = eol.join(lines) + (eol if rng.random() < 0.8 else "")
    data = text.encode("utf-8")
    r = rng.random()
    if r < 0.02:
        data = b"\xef\xbb\xbf" + data
    elif r < 0.04 and data:
        i = rng.randrange(len(data))
        data = data[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + data[i:]
    return data


def botocore_view(path):
    try:
        botocore.configloader.raw_config_parse(path)  # the nested-block check
        raw = botocore.configloader.raw_config_parse(path, parse_subsections=False)
    except ConfigParseError as e:
        return {"ok": False, "error": str(e.kwargs.get("error", e)), "err": e.kwargs.get("error")}
    return {"ok": True, "sections": raw}


def main():
    if not os.path.exists(CLI):
        print(f"{CLI} not built")
        return 1
    rng = random.Random(SEED)
    passed = failed = shown = 0
    accepted = refused = 0
    with tempfile.TemporaryDirectory(prefix="rp-ini-") as tmp:
        paths = []
        for i in range(N_FILES):
            p = os.path.join(tmp, f"f{i:05d}.ini")
            with open(p, "wb") as f:
                f.write(make_file(rng))
            paths.append(p)
        run = subprocess.run([CLI, "--ini"] + paths, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if run.returncode != 0:
            print(f"aws_creds_cli exited {run.returncode}: {run.stderr.decode(errors='replace')}")
            return 1
        ours = [json.loads(l) for l in run.stdout.decode("utf-8", "surrogateescape").splitlines()]
        if len(ours) != len(paths):
            print(f"aws_creds_cli answered {len(ours)} lines for {len(paths)} files")
            return 1
        for p, got in zip(paths, ours):
            want = botocore_view(p)
            same = got["ok"] == want["ok"] and (not got["ok"] or got["sections"] == want["sections"])
            if same:
                passed += 1
                accepted += got["ok"]
                refused += not got["ok"]
                continue
            failed += 1
            if shown < SHOW:
                shown += 1
                with open(p, "rb") as f:
                    print(f"--- {os.path.basename(p)}: {f.read()!r}")
                print(f"  ours:     {got}")
                print(f"  botocore: {want}")
    print(f"{accepted} files read alike, {refused} refused by both")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
