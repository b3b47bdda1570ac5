#!/usr/bin/env python3
"""The module structure, checked against docs/architecture.md.

usage: ci/modcheck.py [REPO]   (exit 0 when every check holds, 1 otherwise)

Reads the `use` lines (every `crate::` and `super::` path outside comments and inline test
modules) of src/, and checks:
  1. no import cycle between files (a module and its submodules are one file each);
  2. every top-level module uses only what the "may use" column of the table in
     docs/architecture.md allows (the diagram and the code cannot drift apart);
  3. every top-level module of src/ has a row in that table, and every row a module;
  4. no source file over MAX_LINES (600) lines, test files (`tests.rs`) aside.
Workspace crates under crates/ (the engine) get checks 1 and 4. A crate re-exported from
src/lib.rs (`pub use calendarbot_ics as ics;`) is a module of the table like any other.
"""
import os
import re
import sys

MAX_LINES = 600
repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
src = os.path.join(repo, "src")
doc = os.path.join(repo, "docs", "architecture.md")


def module_files(src=src):
    """{module path tuple: file} for every .rs file under `src` (lib.rs, main.rs: ()), plus
    the crates src/lib.rs re-exports as modules (file None)."""
    out = {}
    lib = os.path.join(src, "lib.rs")
    if os.path.exists(lib):
        for m in re.finditer(r"(?m)^pub use (\w+) as (\w+);", open(lib, encoding="utf-8").read()):
            out[(m.group(2),)] = None
    for root, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".rs"):
                continue
            p = os.path.join(root, n)
            parts = os.path.relpath(p, src)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            out[tuple(parts)] = p
    return out


def code_of(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"(?s)#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text)
    return re.sub(r"//[^\n]*", "", text)


def edges_of(files):
    def known(path):
        path = tuple(path)
        while path and path not in files:
            path = path[:-1]
        return path or None

    edges = {m: set() for m in files}
    for mod, p in files.items():
        if p is None or (mod and mod[-1] == "tests"):
            continue
        text = code_of(p)
        # `super` is the parent of this file's module (for mod.rs files too: `super` of
        # `a/mod.rs` (module a) is the crate root).
        bases = [("crate", ()), ("super", mod[:-1])]
        for word, base in bases:
            for m in re.finditer(r"\b" + word + r"((?:::\w+)+)", text):
                t = known(list(base) + m.group(1).strip(":").split("::"))
                if t and t != mod and mod[: len(t)] != t:
                    edges[mod].add(t)
        # `use super::*` / `use super::{a, b}` name the parent module itself.
        if re.search(r"\bsuper::(\*|\{)", text) and mod[:-1]:
            edges[mod].add(mod[:-1])
    return edges


def cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def allowed_table():
    """{module: set of modules it may use} from the table under '## Modules' in the doc."""
    table, in_section = {}, False
    for line in open(doc, encoding="utf-8"):
        if line.startswith("## "):
            in_section = line.strip() == "## Modules"
            continue
        if not in_section or not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        uses = set(re.findall(r"`(\w+)`", cells[-1]))
        table[name] = uses
    return table


def main():
    files = module_files()
    edges = edges_of(files)
    problems = []
    for c in cycles(edges):
        problems.append("cycle: " + " <-> ".join("/".join(m) or "lib" for m in c))
    table = allowed_table()
    top = sorted({m[0] for m in files if m})
    for t in top:
        if t not in table:
            problems.append(f"module {t}: no row in docs/architecture.md's module table")
    for t in table:
        if t not in top:
            problems.append(f"docs/architecture.md names module {t}, which src/ does not have")
    for mod, targets in sorted(edges.items()):
        if not mod:
            continue
        for t in sorted(targets):
            if t[0] == mod[0]:
                continue
            if t[0] not in table.get(mod[0], set()):
                problems.append(
                    f"{'/'.join(mod)} uses {'/'.join(t)}: not in {mod[0]}'s 'may use' list"
                )
    crates = os.path.join(repo, "crates")
    others = []
    if os.path.isdir(crates):
        for c in sorted(os.listdir(crates)):
            csrc = os.path.join(crates, c, "src")
            if os.path.isdir(csrc):
                cfiles = module_files(csrc)
                others.append(cfiles)
                for cyc in cycles(edges_of(cfiles)):
                    problems.append(f"cycle in crates/{c}: " + " <-> ".join("/".join(m) or "lib" for m in cyc))
    for fs in [files] + others:
        for mod, p in sorted(fs.items(), key=lambda kv: kv[0]):
            if p is None:
                continue
            n = sum(1 for _ in open(p, encoding="utf-8"))
            if n > MAX_LINES and not (mod and mod[-1] == "tests"):
                problems.append(f"long: {os.path.relpath(p, repo)} has {n} lines (at most {MAX_LINES})")
    for p in problems:
        print(p)
    n_edges = sum(len(v) for v in edges.values())
    print(f"modcheck: {len(files)} files, {n_edges} imports, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
