#!/usr/bin/env python3
"""Checks that the crawler's folders include one another one way only.

docs/ARCHITECTURE.md draws the stages as arrows:

    cli -> scan -> dns, smtp, sts -> verify -> store -> util
    cli -> report -> store
    cli, scan -> targets -> util

A folder may include its own files and those of the folders its arrows
reach, directly or further along; never one to its left, and never a
sibling it has no arrow to (dns, smtp and sts are siblings). This script
reads every #include "..." of crawler/ and targets/, maps each file to its
folder and fails, naming the include line, on

  (a) an include cycle between folders, or between the files of one
      folder (x.c and x.h counting as one: probe.c including regdomain.h
      while regdomain.c includes probe.h is such a loop), and
  (b) an include against the arrows above.

The arrows have no cycle, so every include cycle also has an include
against them; a cycle is reported on its own because it names the whole
loop and where to cut it.

Usage: check_layout.py [ROOT]   (ROOT: the source tree, default: the one
this script is in). Exit status: 0 clean, 1 violations, 2 cannot check.
"""

import os
import re
import sys

# The arrows of docs/ARCHITECTURE.md: the folders each folder may include
# directly. Keep the two in step: a new folder is added to both.
USES = {
    "cli": ("scan", "report", "targets"),
    "report": ("store",),
    "scan": ("dns", "mailproto", "smtp", "sts", "targets"),
    "mailproto": ("smtp",),
    "dns": ("verify",),
    "smtp": ("verify",),
    "sts": ("verify",),
    "verify": ("store",),
    "store": ("util",),
    "targets": ("util",),
    "util": (),
}

RULE = "cli -> scan -> dns, smtp, sts -> verify -> store -> util"

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def reachable(start):
    """The folders start may include: its own and every arrow's end."""
    seen = {start}
    todo = [start]
    while todo:
        for nxt in USES[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def folder_of(rel):
    """The stage folder of a path relative to the root, or None."""
    parts = rel.split("/")
    if parts[0] == "targets" and len(parts) >= 2:
        return "targets"
    if parts[0] == "crawler" and len(parts) >= 3:
        return parts[1]
    return None


def module(rel):
    """A .c file and its .h are one module: the path without extension."""
    return rel.rsplit(".", 1)[0]


def sources(root):
    for top in ("crawler", "targets"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, root).replace(os.sep, "/")


def resolve(root, rel, target):
    """The included file relative to root: the compiler searches the
    including file's folder first, then the root (-I of CMakeLists.txt)."""
    here = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if os.path.isfile(os.path.join(root, here)):
        return here.replace(os.sep, "/")
    if os.path.isfile(os.path.join(root, target)):
        return os.path.normpath(target).replace(os.sep, "/")
    return None


def strong_components(nodes, edges):
    """Tarjan's algorithm: the sets of folders that reach one another."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def check(root):
    problems = []
    other = 0
    # (from folder, to folder) -> ["file:line: #include ...", ...]
    lines = {}
    folders = set()
    # (from module, to module) -> the same; a module is x.c with x.h.
    mod_lines = {}

    for rel in sources(root):
        src = folder_of(rel)
        if src is None or src not in USES:
            other += 1
            problems.append(
                f"{rel}: folder '{src or os.path.dirname(rel)}' is not in "
                "the rule; add it to docs/ARCHITECTURE.md and to USES in "
                "tests/tools/check_layout.py")
            continue
        folders.add(src)
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                where = f'{rel}:{n}: #include "{m.group(1)}"'
                dst_rel = resolve(root, rel, m.group(1))
                if dst_rel is None:
                    other += 1
                    problems.append(f"{where}: no such file in the tree")
                    continue
                dst = folder_of(dst_rel)
                if dst is None or dst not in USES:
                    other += 1
                    problems.append(
                        f"{where}: includes {dst_rel}, outside the "
                        "crawler's folders")
                    continue
                if dst != src:
                    lines.setdefault((src, dst), []).append(where)
                elif module(dst_rel) != module(rel):
                    mod_lines.setdefault((module(rel), module(dst_rel)),
                                         []).append(where)

    edges = {}
    for src, dst in lines:
        edges.setdefault(src, set()).add(dst)

    cycles = 0
    for comp in strong_components(folders, edges):
        if len(comp) < 2:
            continue
        cycles += 1
        # The rule has no cycle, so every loop has an arrow against it:
        # those are where the loop is cut (their lines follow below).
        back = [f"{src} -> {dst}" for (src, dst) in sorted(lines)
                if src in comp and dst in comp and dst not in reachable(src)]
        problems.append("include cycle between folders: " +
                        ", ".join(sorted(comp)) + "; against the arrows: " +
                        ", ".join(back))

    # Inside a folder files may include one another, but not in a loop:
    # two files that need each other are one concern, or share a third.
    mod_edges = {}
    for src, dst in mod_lines:
        mod_edges.setdefault(src, set()).add(dst)
    for comp in strong_components(set(mod_edges), mod_edges):
        if len(comp) < 2:
            continue
        cycles += 1
        problems.append("include cycle between files of " +
                        folder_of(next(iter(comp))) + "/ (x.c and x.h "
                        "count as one): " + ", ".join(sorted(comp)))
        for (src, dst), where in sorted(mod_lines.items()):
            if src in comp and dst in comp:
                problems.extend(f"  {w}" for w in where)

    against = 0
    for (src, dst), where in sorted(lines.items()):
        if dst in reachable(src):
            continue
        for w in where:
            against += 1
            problems.append(f"{w}: {src}/ may not include {dst}/")
    return problems, cycles, against, other


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    root = os.path.abspath(root)
    if not os.path.isdir(os.path.join(root, "crawler")):
        print(f"check_layout: {root} has no crawler/ folder", file=sys.stderr)
        return 2
    # The rule itself must run one way, or no tree could pass it.
    for comp in strong_components(set(USES), USES):
        if len(comp) > 1:
            print("check_layout: USES has a cycle: " + ", ".join(sorted(comp)),
                  file=sys.stderr)
            return 2
    problems, cycles, against, other = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layout: {cycles} include cycle(s), "
              f"{against} include(s) against the arrows, "
              f"{other} other problem(s); "
              f"the arrows: {RULE} (docs/ARCHITECTURE.md)")
        return 1
    print("check_layout: the folders include one another one way only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
