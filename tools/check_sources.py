#!/usr/bin/env python3
"""Source rules that keep the code clean for MSVC /W4 /WX where GCC and clang cannot tell.

Usage: check_sources.py --root REPO [--stamp FILE]

Run as a build step (cmake/SourceRules.cmake), so a break fails the build, and as CTest
source_rules. Each rule names what MSVC would do; one line per finding, exit 1:
- no `alignas`: padding it adds to a class is MSVC warning C4324 in every file that includes the
  class, and no GCC or clang warning reports that padding. Get alignment from a member's type.
- no `#pragma GCC` / `#pragma clang`: unknown to MSVC (C4068).
- no `__attribute__` / `__builtin_`: GNU extensions MSVC does not have.
- Windows headers only through <wire/win32.h> (engine/include/wire/win32.h), which insists on the
  project's Windows definitions; a file including <windows.h> itself would compile without them.
Comments and string literals are not searched.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

FOLDERS = ("engine", "tls", "server", "client", "tests", "benchmarks", "docs")
SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".inl"}
WINDOWS_HEADER = "engine/include/wire/win32.h"
# The headers that make up <windows.h> and Winsock; SDK extras such as <psapi.h> need windows.h
# first, so they only compile after <wire/win32.h> anyway.
WINDOWS_HEADERS = re.compile(
    r"#\s*include\s*[<\"](windows|winsock2?|ws2tcpip|mswsock|ws2def|ws2ipdef|windef|winbase|winnt|"
    r"minwindef|winerror|winternl|synchapi|processthreadsapi|sdkddkver)\.h[>\"]", re.I)
RULES = (
    (re.compile(r"\balignas\s*\("), "alignas pads the class: MSVC C4324 in every includer (align by a member's type instead)"),
    (re.compile(r"#\s*pragma\s+(GCC|clang)\b"), "#pragma GCC/clang: MSVC C4068 (unknown pragma)"),
    (re.compile(r"\b__attribute__\b"), "__attribute__: a GNU extension MSVC lacks (use a standard [[attribute]])"),
    (re.compile(r"\b__builtin_\w+"), "__builtin_*: a GNU extension MSVC lacks"),
)
# Comments and literals, replaced by blanks of the same length (keeps line numbers).
NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|R"([^(\s]*)\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def blank(match: re.Match[str]) -> str:
    text = match.group(0)
    # An #include's "file.h" is a literal too, but it is exactly what the header rule looks at.
    return text if text.startswith('"') and text.endswith('.h"') else re.sub(r"[^\n]", " ", text)


def sources(root: Path) -> list[Path]:
    found = []
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).parts
            if path.suffix in SUFFIXES and path.is_file() and not any(p.startswith(".") for p in rel):
                found.append(path)
    return found


def check_file(root: Path, path: Path) -> list[str]:
    rel = path.relative_to(root).as_posix()
    code = NOISE.sub(blank, path.read_text(encoding="utf-8", errors="replace"))
    problems = []
    for number, line in enumerate(code.splitlines(), 1):
        for pattern, why in RULES:
            if pattern.search(line):
                problems.append(f"{rel}:{number}: {why}")
        if rel != WINDOWS_HEADER and (m := WINDOWS_HEADERS.search(line)):
            problems.append(f"{rel}:{number}: <{m.group(1)}.h> directly: include <wire/win32.h> instead "
                            "(it checks the Windows definitions)")
    return problems


def check(root: Path) -> tuple[list[str], int]:
    files = sources(root)
    return [p for f in files for p in check_file(root, f)], len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--stamp", type=Path, help="touched when the tree is clean (for the build step)")
    args = parser.parse_args(argv)
    problems, files = check(args.root.resolve())
    for line in problems:
        print(line)
    if problems:
        return 1
    if args.stamp:
        args.stamp.touch()
    print(f"source rules: {files} files clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
