#!/usr/bin/env python3
"""Checks sources with clang for the x86_64-w64-mingw32 target (-fsyntax-only, warnings as errors).

GCC builds the project; clang's different front end catches non-portable code GCC accepts.
Exit 1 and clang's diagnostics when any file fails.
"""
import argparse
import concurrent.futures
import subprocess
import sys

GCC_INCLUDE = "/usr/lib/gcc/x86_64-w64-mingw32/12-posix/include/c++"
FLAGS = [
    "--target=x86_64-w64-mingw32", "-std=c++20", "-fsyntax-only", "-nostdinc++",
    "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wnon-virtual-dtor",
    "-D_WIN32_WINNT=0x0A00", "-DWIN32_LEAN_AND_MEAN", "-DNOMINMAX",
    "-isystem", GCC_INCLUDE, "-isystem", GCC_INCLUDE + "/x86_64-w64-mingw32",
    "-isystem", "/usr/x86_64-w64-mingw32/include",
]


def check(clang: str, includes: list[str], source: str) -> tuple[str, int, str]:
    command = [clang, *FLAGS]
    for include in includes:
        command += ["-isystem" if "deps" in include else "-I", include]
    result = subprocess.run([*command, source], capture_output=True, text=True)
    return source, result.returncode, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clang", default="clang++")
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("sources", nargs="+")
    args = parser.parse_args()
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for source, code, errors in pool.map(lambda s: check(args.clang, args.include, s), args.sources):
            if code != 0:
                failures += 1
                print(f"FAIL {source}\n{errors}")
    print(f"clang syntax check: {len(args.sources) - failures}/{len(args.sources)} sources clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
