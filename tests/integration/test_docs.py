#!/usr/bin/python3
"""The project documents itself: its docs cite only what the repository holds.

- No file of the repository cites the old behaviour contract that lived
  outside it ("SPEC §N", a path to ../shared/docs/).
- Every citation of a section of a doc, such as "docs/handler.md §6",
  "handler.md §4.5" or "docs/handler.md (§1-§7)", in the code, the tests and
  the docs names a file of docs/ and sections that file has: "§6" needs a
  heading "## 6. ..." and "§4.5" a heading "### 4.5 ...".
- Every relative link in README.md and docs/*.md names a file that exists,
  and an anchor (#...) names a heading of that file (GitHub's slugs).

Environment: RIDEPRED_SOURCE_DIR (default: this file's repository).  Prints
every broken reference; ends with "N passed, N failed"; exits 1 on any
failure.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("RIDEPRED_SOURCE_DIR") or Path(__file__).resolve().parents[2])
DOCS = ROOT / "docs"

failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)


def tracked_files():
    """The repository's text files (git's list; else a walk without build dirs)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout.decode()
        files = [ROOT / f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if p.is_file()
                 and not any(part in ("build", "node_modules", ".git") or part.startswith("build-")
                             for part in p.relative_to(ROOT).parts)]
    keep = []
    for p in files:
        if "node_modules" in p.parts or not p.is_file():
            continue
        try:
            keep.append((p, p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            pass  # binary
    return keep


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    h = re.sub(r"[`*_]", "", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def headings(path):
    """(section numbers, anchors) of a Markdown file."""
    nums, anchors = set(), set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"(#{1,6})\s+(.*)", line)
        if not m:
            continue
        text = m.group(2)
        anchors.add(slug(text))
        n = re.match(r"(\d+(?:\.\d+)*)\.?\s", text)
        if n:
            nums.add(n.group(1))
    return nums, anchors


HEADINGS = {}


def doc_headings(name):
    p = DOCS / name
    if name not in HEADINGS:
        HEADINGS[name] = headings(p) if p.is_file() else None
    return HEADINGS[name]


SECTION = r"§\d+(?:\.\d+)?"
# "docs/handler.md §3, §4", "handler.md §6-§7", "docs/handler.md (§1-§7)", "§9 and §10"
CITATION = re.compile(r"(?<![\w/.-])(?:docs/)?([A-Za-z][\w-]*\.md)((?:[ (]*" + SECTION +
                      r"(?:\s*[-–]\s*" + SECTION + r")?(?:\s*(?:,|and)\s*(?=§))?)+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def main():
    files = tracked_files()
    check(files, "no files found under %s" % ROOT)
    me = Path(__file__).resolve()
    for path, text in files:
        rel = path.relative_to(ROOT)
        if path.resolve() != me:
            for m in re.finditer(r"SPEC §|shared/docs/", text):
                line = text.count("\n", 0, m.start()) + 1
                check(False, "%s:%d cites the old contract outside the repository (%r)"
                      % (rel, line, text[m.start():m.start() + 20]))
        for m in CITATION.finditer(text):
            name = m.group(1)
            if name == "README.md" and not (DOCS / name).is_file():
                continue
            line = text.count("\n", 0, m.start()) + 1
            found = doc_headings(name)
            if found is None:
                check(False, "%s:%d cites %s, which is not in docs/" % (rel, line, name))
                continue
            for sec in re.findall(r"§(\d+(?:\.\d+)?)", m.group(2)):
                check(sec in found[0], "%s:%d cites %s §%s, which has no such section"
                      % (rel, line, name, sec))
    md = [ROOT / "README.md"] + sorted(DOCS.glob("*.md"))
    for path in md:
        text = path.read_text(encoding="utf-8")
        for m in LINK.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # http:, https:, mailto:
            line = text.count("\n", 0, m.start()) + 1
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = "%s:%d" % (path.relative_to(ROOT), line)
            if not dest.exists():
                check(False, "%s links %s, which does not exist" % (where, target))
                continue
            if not dest.is_relative_to(ROOT):
                check(False, "%s links %s, outside the repository" % (where, target))
                continue
            if anchor and dest.suffix == ".md":
                check(anchor in headings(dest)[1], "%s links %s: no such heading" % (where, target))
            else:
                check(True, where)
    for f in failures:
        print("FAIL:", f)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
