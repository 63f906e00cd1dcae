#!/usr/bin/env python3
"""Fails when a layer includes a header of a layer it does not link.

Each layer is a CMake library (src/<layer>/CMakeLists.txt); its direct dependencies are the
popfs_* targets in its target_link_libraries(). A source file of src/<layer> or a header of
include/popfs/<layer> may include "popfs/<other>/..." only if <other> is the layer itself or
one it links, directly or through the layers it links. Run by the build (target
check_layers), so a wrong include breaks the build as a missing library would.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])

# Layer name (as in include/popfs/<name>/) -> (CMake target, source directory).
LAYERS = {
    "util": ("popfs_util", "src/util"),
    "pop3": ("popfs_pop3", "src/pop3"),
    "store": ("popfs_store", "src/store"),
    "net": ("popfs_net", "src/net"),
    "mailbox": ("popfs_mailbox", "src/mailbox"),
    "mime": ("popfs_mime", "src/mime"),
    "fs": ("popfs_fs", "src/fs"),
    "fuse": ("popfs_fuse", "src/fuse"),
    "app": ("popfs_appsupport", "src/app/support"),
}
EXECUTABLE = ("popfs", "src/app")  # the main program: may use every layer it links

link_re = re.compile(r"target_link_libraries\(\s*(\w+)(.*?)\)", re.S)
include_re = re.compile(r'#include\s+"popfs/(\w+)/')


def direct_links():
    links = {}
    for cmake in root.glob("src/**/CMakeLists.txt"):
        for target, body in link_re.findall(cmake.read_text()):
            links.setdefault(target, set()).update(re.findall(r"\bpopfs_\w+", body))
    return links


def closure(target, links, seen=None):
    seen = set() if seen is None else seen
    for dep in links.get(target, ()):
        if dep not in seen:
            seen.add(dep)
            closure(dep, links, seen)
    return seen


def main():
    links = direct_links()
    target_layer = {target: name for name, (target, _) in LAYERS.items()}
    problems = []

    def check(files, target, own_layer):
        allowed = {own_layer} | {target_layer[t] for t in closure(target, links) if t in target_layer}
        for path in files:
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = include_re.search(line)
                if m and m.group(1) not in allowed:
                    problems.append(f"{path.relative_to(root)}:{n}: {target} includes popfs/{m.group(1)}/ "
                                    f"but does not link popfs_{m.group(1) if m.group(1) != 'app' else 'appsupport'}")

    for name, (target, src) in LAYERS.items():
        files = [p for p in (root / src).glob("**/*") if p.suffix in (".cpp", ".hpp")]
        files += [p for p in (root / "include/popfs" / name).glob("*.hpp")]
        check(files, target, name)
    exe_target, exe_src = EXECUTABLE
    check([p for p in (root / exe_src).glob("*") if p.suffix in (".cpp", ".hpp")], exe_target, "app")
    if problems:
        print("layering violations (include only what the layer links; see doc/ARCHITECTURE.md):")
        print("\n".join(problems))
        return 1
    return 0


sys.exit(main())
