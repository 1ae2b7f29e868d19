#!/usr/bin/env python3
"""Checks every source of the cross-build with clang for the x86_64-w64-mingw32 target
(-fsyntax-only, the project's warnings as errors).

GCC builds the project; clang's different front end catches non-portable code GCC accepts, and its
-Wconversion family (-Wshorten-64-to-32 among them) is closer to MSVC's C4244/C4267. The files and
their include paths and definitions come from CMake's compile_commands.json, so every target is
checked exactly as GCC compiles it; --require names folders that must be among them (a target
that silently dropped out would otherwise go unchecked). Exit 1 and clang's diagnostics when any
file fails.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

BASE_FLAGS = ["--target=x86_64-w64-mingw32", "-fsyntax-only", "-nostdinc++"]


def gcc_include_flags(gcc: str) -> list[str]:
    """The C++ library and Windows header folders the MinGW GCC that builds the project searches,
    as -isystem flags, asked from the compiler itself (`-E -x c++ -v`), so no GCC version or Debian
    release is named here. GCC's own builtin folders (`-print-file-name=include` and
    include-fixed: intrinsics, stddef.h) are left out: clang brings its own."""
    try:
        verbose = subprocess.run([gcc, "-E", "-x", "c++", "-v", "-"], stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, check=True).stderr
        builtin = subprocess.run([gcc, "-print-file-name=include"], capture_output=True, text=True,
                                 check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"clang syntax check: cannot ask {gcc} for its include folders: {error}")
    lines = verbose.splitlines()
    try:
        first = lines.index("#include <...> search starts here:") + 1
        last = lines.index("End of search list.", first)
    except ValueError:
        raise SystemExit(f"clang syntax check: no include search list in the output of {gcc} -v")
    skip = {os.path.realpath(builtin), os.path.realpath(builtin + "-fixed")}
    folders = [os.path.realpath(line.strip()) for line in lines[first:last]]
    kept = [f for f in folders if f not in skip]
    if not any(os.path.isfile(os.path.join(f, "vector")) for f in kept):
        raise SystemExit(f"clang syntax check: {gcc} lists no C++ library folder: {folders}")
    return [flag for f in kept for flag in ("-isystem", f)]


def compile_flags(command: list[str]) -> list[str]:
    """What decides how a file parses: language standard, definitions, include paths."""
    kept, i = [], 0
    while i < len(command):
        arg = command[i]
        if arg in ("-isystem", "-I", "-D", "-include"):
            kept += command[i:i + 2]
            i += 2
            continue
        if arg.startswith(("-D", "-I", "-std=")):
            kept.append(arg)
        i += 1
    return kept


def check(clang: str, flags: list[str], warnings: list[str], entry: dict) -> tuple[str, int, str]:
    command = entry.get("arguments") or shlex.split(entry["command"])
    source = os.path.join(entry["directory"], entry["file"])
    result = subprocess.run([clang, *flags, *compile_flags(command[1:]), *warnings, source],
                            capture_output=True, text=True)
    return source, result.returncode, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clang", default="clang++")
    parser.add_argument("--gcc", default="x86_64-w64-mingw32-g++-posix",
                        help="the MinGW-w64 g++ that builds the project: its C++ headers are used")
    parser.add_argument("--compile-commands", required=True)
    parser.add_argument("--root", required=True, help="repository root: files outside it are not ours")
    parser.add_argument("--require", action="append", default=[],
                        help="a folder (relative to --root) that must contribute at least one file")
    parser.add_argument("--warning", action="append", default=[], help="a warning flag, e.g. -Wconversion")
    args = parser.parse_args()

    root = os.path.realpath(args.root)
    with open(args.compile_commands, encoding="utf-8") as f:
        entries = [e for e in json.load(f)
                   if os.path.realpath(os.path.join(e["directory"], e["file"])).startswith(root + os.sep)]
    missing = [d for d in args.require
               if not any(os.path.realpath(os.path.join(e["directory"], e["file"])).startswith(
                   os.path.join(root, d) + os.sep) for e in entries)]
    if missing:
        print(f"clang syntax check: no source from {', '.join(missing)} in {args.compile_commands}")
        return 1

    flags = BASE_FLAGS + gcc_include_flags(args.gcc)
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for source, code, errors in pool.map(lambda e: check(args.clang, flags, args.warning, e), entries):
            if code != 0:
                failures += 1
                print(f"FAIL {source}\n{errors}")
    print(f"clang syntax check: {len(entries) - failures}/{len(entries)} sources clean "
          f"({', '.join(args.require)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
