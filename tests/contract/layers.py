#!/usr/bin/env python3
"""The layers of dbavm's sources, and the one direction of their dependencies.

Each source file (agent/, api/, enforce/, orch/, ctl/) belongs to one layer, and may include
the headers of its own layer and of the layers below it as ALLOWED lists them; any other
project header it includes is a wrong-way dependency. A file in none of the layers fails
too: a new file is given its place here (and in the README's "Layers"), or the check fails.

  layers.py TOP            check the tree at TOP; exit 1 naming each wrong-way include
  layers.py --planted TOP  the check itself: a copy of the tree with one wrong-way include
                           planted (the allocator including the API) must fail, naming it
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DIRS = ("agent", "api", "enforce", "orch", "ctl")

# A file's layer: by its path without the extension, else by its folder.
LAYER_OF = {
    **{f"agent/{n}": "lib" for n in
       "loop log worker rtnl tc arith measure delay text sla".split()},
    **{f"agent/{n}": "platform" for n in "platform netns xen scenario".split()},
    "agent/sim": "sim",
    **{f"agent/{n}": "core" for n in "host alloc admit control report store".split()},
    "agent/config": "config",
    "agent/testbed": "testbed",
    "agent/providers": "providers",
    "agent/main": "wiring",
    "agent/version": "lib",
    "enforce": "enforce",
    "orch": "orch",
    "api": "api",
    "ctl": "ctl",
}

# What each layer may include, its own headers included. None: anything (the wiring).
ALLOWED = {
    "lib": {"lib"},
    "platform": {"lib", "platform"},
    "enforce": {"lib", "platform", "enforce"},
    "sim": {"lib", "platform", "enforce", "sim"},  # a modelled host and its enforcers
    "core": {"lib", "platform", "enforce", "core"},
    "config": {"lib", "platform", "enforce", "core", "config"},
    "testbed": {"lib", "platform", "testbed"},
    # the registry: which enforcer each platform allows, and how each opens
    "providers": {"lib", "platform", "enforce", "sim", "core", "config", "providers"},
    "orch": {"lib", "core", "config", "orch"},
    "api": {"lib", "core", "config", "orch", "api"},
    "ctl": {"lib", "config", "ctl"},
    "wiring": None,
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(rel):
    """rel's layer: by its path without the extension, else by its folder (agent/'s files are
    named one by one); None if it has none."""
    base = re.sub(r"(\.bpf)?\.(c|h)(\.in)?$", "", rel)
    return LAYER_OF.get(base) or LAYER_OF.get(rel.split("/")[0])


def sources(top):
    for d in DIRS:
        for name in sorted(os.listdir(os.path.join(top, d))):
            if re.search(r"\.(c|h|h\.in)$", name):
                yield f"{d}/{name}"


def check(top):
    files = list(sources(top))
    headers = {}
    for rel in files:
        if rel.endswith(".h") or rel.endswith(".h.in"):
            headers[os.path.basename(rel).removesuffix(".in")] = rel
    bad = []
    for rel in files:
        mine = layer(rel)
        if mine is None:
            bad.append(f"{rel}: in no layer (give it one in tests/contract/layers.py)")
            continue
        text = open(os.path.join(top, rel), encoding="utf-8", errors="replace").read()
        for m in INCLUDE.finditer(text):
            h = headers.get(os.path.basename(m.group(1)))
            if not h or ALLOWED[mine] is None:
                continue
            theirs = layer(h)
            if theirs not in ALLOWED[mine]:
                line = text.count("\n", 0, m.start()) + 1
                bad.append(f"{rel}:{line}: {mine} includes {h} ({theirs}); "
                           f"{mine} may include {', '.join(sorted(ALLOWED[mine]))}")
    return len(files), bad


def planted(top):
    with tempfile.TemporaryDirectory(prefix="dbavm-layers-") as tmp:
        for d in DIRS:
            shutil.copytree(os.path.join(top, d), os.path.join(tmp, d))
        with open(os.path.join(tmp, "agent/alloc.c"), "a") as f:
            f.write('#include "api.h"\n')
        r = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        print(r.stdout, end="")
        ok = r.returncode == 1 and "agent/alloc.c:" in r.stdout and "includes api/api.h" in r.stdout
        print(("ok  " if ok else "FAIL") + " the planted wrong-way include (agent/alloc.c, core,"
              " including api/api.h) fails the check and is named")
        return 0 if ok else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--planted":
        return planted(sys.argv[2])
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    n, bad = check(sys.argv[1])
    for b in bad:
        print("FAIL " + b)
    print(f"{n} files, {len(bad)} wrong-way includes or files without a layer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
