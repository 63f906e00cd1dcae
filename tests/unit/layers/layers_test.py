#!/usr/bin/env python3
"""cmake/check_layers.py catches an include of a layer the target does not link, and
passes the same tree once the link is there."""
import pathlib
import subprocess
import sys
import tempfile

script = pathlib.Path(sys.argv[1])


def make_tree(base, fs_links):
    (base / "src/fs").mkdir(parents=True)
    (base / "src/net").mkdir(parents=True)
    (base / "src/util").mkdir(parents=True)
    (base / "include/popfs/fs").mkdir(parents=True)
    (base / "src/util/CMakeLists.txt").write_text("add_library(popfs_util a.cpp)\n")
    (base / "src/net/CMakeLists.txt").write_text("add_library(popfs_net a.cpp)\ntarget_link_libraries(popfs_net PUBLIC popfs_util)\n")
    (base / "src/fs/CMakeLists.txt").write_text(f"add_library(popfs_fs a.cpp)\ntarget_link_libraries(popfs_fs PUBLIC {fs_links})\n")
    (base / "src/fs/a.cpp").write_text('#include "popfs/fs/x.hpp"\n#include "popfs/util/error.hpp"\n')
    (base / "include/popfs/fs/x.hpp").write_text('#include "popfs/net/account.hpp"\n')


with tempfile.TemporaryDirectory() as d:
    bad = pathlib.Path(d) / "bad"
    make_tree(bad, "popfs_util")
    r = subprocess.run([sys.executable, script, bad], capture_output=True, text=True)
    assert r.returncode == 1, r
    assert "include/popfs/fs/x.hpp:1: popfs_fs includes popfs/net/" in r.stdout, r.stdout
    good = pathlib.Path(d) / "good"
    make_tree(good, "popfs_net")  # util comes through net
    r = subprocess.run([sys.executable, script, good], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
print("ok")
