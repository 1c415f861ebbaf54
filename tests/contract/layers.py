#!/usr/bin/env python3
"""The layers of dbavm's sources, and the one direction of their dependencies.

Each source file (lib/, platform/, enforce/, agent/, testbed/, orch/, api/, ctl/) belongs to one layer, and may include
the headers of its own layer and of the layers below it as ALLOWED lists them; any other
project header it includes is a wrong-way dependency. A file in none of the layers fails
too: a new file is given its place here (and in the README's "Layers"), or the check fails.

  layers.py TOP            check the tree at TOP; exit 1 naming each wrong-way include
  layers.py --planted TOP  the check itself: a copy of the tree with one wrong-way include
                           planted (the allocator including the API) must fail, naming it
  layers.py --compile TOP BUILD
                           the compiler holds the folders: for one file of each library, a
                           copy with a header of a layer above planted in it must not compile
                           with that file's own flags (BUILD/compile_commands.json), and the
                           copy without it must
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DIRS = ("lib", "platform", "platform/sim", "enforce", "agent", "testbed", "orch", "api", "ctl")

# A file's layer: by its path without the extension, else by its folder. The folders are the
# compiler's layers too (each is one library, CMakeLists.txt); agent/ holds four of the finer
# ones, named here file by file.
LAYER_OF = {
    "lib": "lib",
    "platform": "platform",
    "platform/sim": "sim",
    "enforce": "enforce",
    **{f"agent/{n}": "core" for n in "host alloc admit control report store snapshot".split()},
    "agent/control_impl": "core_private",  # struct control, whole: core's own
    "agent/config": "config",
    "agent/providers": "providers",
    **{f"agent/{n}": "wiring" for n in "main agent periods reload".split()},
    "testbed": "testbed",
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
    "core": {"lib", "platform", "enforce", "core", "core_private"},
    "core_private": {"lib", "platform", "enforce", "core", "core_private"},
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
    return LAYER_OF.get(base) or LAYER_OF.get(os.path.dirname(rel))


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
            shutil.copytree(os.path.join(top, d), os.path.join(tmp, d), dirs_exist_ok=True)
        with open(os.path.join(tmp, "agent/alloc.c"), "a") as f:
            f.write('#include "api.h"\n')
        r = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        print(r.stdout, end="")
        ok = r.returncode == 1 and "agent/alloc.c:" in r.stdout and "includes api/api.h" in r.stdout
        print(("ok  " if ok else "FAIL") + " the planted wrong-way include (agent/alloc.c, core,"
              " including api/api.h) fails the check and is named")
        return 0 if ok else 1


# (file, a header of a layer above the file's folder): each must fail to compile.
WRONG_WAY = [
    ("lib/measure.c", "platform.h"),
    ("platform/xen.c", "enforcer.h"),
    ("platform/netns.c", "testbed.h"),
    ("enforce/frame.c", "host.h"),
    ("enforce/netfront.c", "sim.h"),
    ("platform/sim/sim.c", "control.h"),
    ("agent/alloc.c", "api.h"),
    ("agent/control.c", "placement.h"),
    ("agent/store.c", "sim.h"),
    ("agent/config.c", "placement.h"),
    ("testbed/testbed.c", "enforcer.h"),
    ("orch/placement.c", "api.h"),
    ("ctl/units.c", "log.h"),
]


def compiled(top, build):
    """Each WRONG_WAY file, copied with and without its planted include, compiled with its own
    command from the build's compile_commands.json (its folder searched first, as for the
    original)."""
    import json
    import shlex
    cmds = {os.path.realpath(c["file"]): c
            for c in json.load(open(os.path.join(build, "compile_commands.json")))}
    failed = 0
    with tempfile.TemporaryDirectory(prefix="dbavm-layers-") as tmp:
        for rel, header in WRONG_WAY:
            src = os.path.realpath(os.path.join(top, rel))
            c = cmds.get(src)
            if c is None:
                print(f"FAIL {rel}: not in {build}/compile_commands.json")
                failed += 1
                continue
            argv = shlex.split(c["command"])
            results = []
            for plant in (False, True):
                copy = os.path.join(tmp, os.path.basename(rel))
                with open(copy, "w") as f:
                    f.write(open(src).read())
                    if plant:
                        f.write(f'#include "{header}"\n')
                args = []
                skip = False
                for a in argv:
                    if skip:
                        skip = False
                        args.append(os.path.join(tmp, "out.o"))
                        continue
                    if a == "-o":
                        skip = True
                    args.append(copy if os.path.realpath(os.path.join(c["directory"], a)) == src
                                else a)
                args[1:1] = ["-iquote", os.path.dirname(src)]
                r = subprocess.run(args, cwd=c["directory"], capture_output=True, text=True)
                results.append(r.returncode == 0)
            ok = results == [True, False]
            failed += not ok
            print(("ok  " if ok else "FAIL") + f" {rel}: as it is, "
                  f"{'compiles' if results[0] else 'does NOT compile'}; with "
                  f"#include \"{header}\", {'compiles (wrong)' if results[1] else 'refused'}")
    return 1 if failed else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--planted":
        return planted(sys.argv[2])
    if len(sys.argv) == 4 and sys.argv[1] == "--compile":
        return compiled(sys.argv[2], sys.argv[3])
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
