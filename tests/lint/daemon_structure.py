#!/usr/bin/python3
"""The daemon's modules form layers (issue 13): the graph of which module
includes which module's header has no cycle, so that each piece of state
has one owner and teardown has one order.  A module is a family of files
in daemon/ named alike before the first underscore (ec2.c, ec2.h,
ec2_msg.c and ec2_msg.h are the module ec2; config_keys.c is config's).  A header without a .c of its own (daemon.h) may
hold types only: functions declared there would belong to a module the
graph cannot see.  Also: no daemon source file is over MAX_LINES, so that
none grows back into a file that does everything.

Run from the source root; prints the cycle or the long files and exits 1.
"""
import os
import re
import sys

MAX_LINES = 800
INCLUDE = re.compile(r'^#include "daemon/([a-z0-9_]+)\.h"', re.M)
# A function declaration at the start of a line: "type name(" ... ";".
PROTOTYPE = re.compile(r'^(?!typedef|#|struct \w+ \{)[a-z][\w \*]*?\b(\w+)\(', re.M)


def graph(directory="daemon"):
    edges = {}
    for name in sorted(os.listdir(directory)):
        base, ext = os.path.splitext(name)
        if ext not in (".c", ".h"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            text = f.read()
        module = base.split("_")[0]
        deps = edges.setdefault(module, set())
        deps.update(m.split("_")[0] for m in INCLUDE.findall(text)
                    if m.split("_")[0] != module)
    return edges


def find_cycle(edges):
    """A list of modules forming a cycle, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def bare_headers(directory="daemon"):
    """Headers without a .c that declare functions."""
    out = []
    names = set(os.listdir(directory))
    for name in sorted(names):
        base, ext = os.path.splitext(name)
        if ext != ".h" or any(n.endswith(".c") and
                              n.split("_")[0].split(".")[0] ==
                              base.split("_")[0] for n in names):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            funcs = PROTOTYPE.findall(f.read())
        if funcs:
            out.append("%s declares %s" % (name, ", ".join(funcs)))
    return out


def long_files(directory="daemon"):
    out = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".c"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                n = sum(1 for _ in f)
            if n > MAX_LINES:
                out.append("%s: %d lines" % (name, n))
    return out


def main():
    status = 0
    cycle = find_cycle(graph())
    if cycle:
        print("include cycle between daemon modules: " + " -> ".join(cycle))
        status = 1
    for line in bare_headers():
        print("a header of no module declares functions: " + line)
        status = 1
    for line in long_files():
        print("over %d lines: %s" % (MAX_LINES, line))
        status = 1
    if status == 0:
        print("daemon structure: ok")
    return status


if __name__ == "__main__":
    sys.exit(main())
