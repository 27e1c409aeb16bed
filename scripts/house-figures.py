#!/usr/bin/env python3
"""The figures #12 asks for, read from the tree: modules per folder of the binary crate, their
import graph (levels, circles), option names written as string literals outside the config
crate, and fixed sleeps and free_port() calls in tests.

Usage: scripts/house-figures.py [REPO]   (default: the repository this script is in)
"""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = os.path.join(root, "crates", "impulse", "src")


def module_of(path):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "crate"


mods = {}
for d, _, files in os.walk(src):
    for f in files:
        if f.endswith(".rs"):
            p = os.path.join(d, f)
            mods[module_of(p)] = open(p, encoding="utf-8").read()


def strip_tests(text):
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def resolve(name):
    """The longest known module a crate:: path names."""
    parts = name.split("::")
    while parts:
        m = "::".join(parts)
        if m in mods:
            return m
        parts.pop()
    return None


edges = {}
for m, text in mods.items():
    text = strip_tests(text)
    deps = set()
    for path in re.findall(r"crate::((?:[a-z_0-9]+::)*[a-z_0-9]+)", text):
        t = resolve(path)
        if t and t != m and not t.startswith(m + "::") and t != "crate":
            deps.add(t)
    parent = m.rsplit("::", 1)[0] if "::" in m else "crate"
    if mods.get(m) is not None and parent != "crate":
        for path in re.findall(r"super::((?:[a-z_0-9]+::)*[a-z_0-9]+)", text):
            t = resolve(parent + "::" + path)
            if t and t != m and t != parent:
                deps.add(t)
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        for item in group.split(","):
            t = resolve(item.strip().split("::")[0].strip())
            if t and t != m:
                deps.add(t)
    edges[m] = deps

# Strongly connected components (Tarjan), then levels on the condensed graph.
index, low, stack, on, comps = {}, {}, [], set(), []


def strong(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        strong(v)
comp_of = {v: i for i, c in enumerate(comps) for v in c}
level = {}
for i, c in enumerate(comps):  # Tarjan emits components in reverse topological order
    deps = {comp_of[w] for v in c for w in edges[v]} - {i}
    level[i] = 1 + max((level[d] for d in deps), default=0)
circles = [sorted(c) for c in comps if len(c) > 1]

# A folder's own mod.rs counts in that folder; files beside main.rs count as "(top)".
folders = {}
for m in mods:
    if m == "crate":
        continue
    is_dir = any(other.startswith(m + "::") for other in mods)
    folder = m if is_dir else (m.rsplit("::", 1)[0] if "::" in m else "(top)")
    folders.setdefault(folder, []).append(m)

print("binary crate crates/impulse/src")
print(f"  modules: {len(mods)}  import levels: {max(level.values())}  circles: {len(circles)}")
for c in circles:
    print("    circle: " + " <-> ".join(c))
for folder in sorted(folders):
    names = ", ".join(sorted(m.rsplit("::", 1)[-1] for m in folders[folder]))
    print(f"  {folder}: {len(folders[folder])} modules ({names})")

# Option names as string literals outside the config crate.
names = set()
reg = os.path.join(root, "crates", "config", "src", "registry.rs")
if os.path.exists(reg):
    names = set(re.findall(r'opt!\((?:[A-Z0-9_]+, )?"([A-Za-z0-9_:]+)"', open(reg, encoding="utf-8").read()))
literal_lookups = 0
literal_names = 0
for d, _, files in os.walk(os.path.join(root, "crates")):
    if os.sep + "config" + os.sep in d + os.sep or "target" in d:
        continue
    for f in files:
        if not f.endswith(".rs") or os.sep + "tests" in d:
            continue
        text = strip_tests(open(os.path.join(d, f), encoding="utf-8").read())
        literal_lookups += len(re.findall(r'\.(?:scalar|list|flag|int|duration|get|value)\(\s*"[A-Za-z_]+"', text))
        literal_names += sum(1 for s in re.findall(r'"([A-Za-z][A-Za-z0-9_]+)"', text) if s in names)
print(f"option look-ups by string literal: {literal_lookups}")
print(f"option names as string literals outside crates/config (non-test code): {literal_names}")

sleeps = free_ports = 0
for d, _, files in os.walk(os.path.join(root, "crates")):
    if "target" in d:
        continue
    for f in files:
        if f.endswith(".rs"):
            text = open(os.path.join(d, f), encoding="utf-8").read()
            if os.sep + "tests" in d or "#[cfg(test)]" in text:
                body = text if os.sep + "tests" in d else text[text.find("#[cfg(test)]"):]
                sleeps += len(re.findall(r"\bsleep\(", body))
                free_ports += len(re.findall(r"\bfree_port\(\)", body))
print(f"tests: sleep( calls: {sleeps}  free_port() calls: {free_ports}")
