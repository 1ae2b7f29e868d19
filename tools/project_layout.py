"""The one description of the Visual Studio side of the tree.

update_vcxproj.py writes the .vcxproj item groups from it, check_project_files.py checks the
.sln, the .vcxproj files and the CMake targets against it, and cmake/ProjectFilesCheck.cmake
asks it (``--cmake-targets``) which CMake targets to report. Change the layout here only.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Project:
    folder: str                    # repository-relative, forward slashes
    cmake_targets: tuple[str, ...]  # a file under `folder` must be in at least one of these

    @property
    def name(self) -> str:
        return PurePosixPath(self.folder).name

    @property
    def vcxproj(self) -> str:
        return f"{self.folder}/{self.name}.vcxproj"


PROJECTS = (
    Project("engine", ("engine",)),
    # wire::tls, the SChannel layer over the engine: its own static library (tls/tls.vcxproj).
    Project("tls", ("wire_tls",)),
    Project("server", ("server",)),
    Project("client", ("client",)),
    # neutral_tests is the native Linux sanitizer build of the platform-neutral tests; it only
    # exists in that build, so a tests/ file may be in either target. tls_tests (tests/tls) is
    # wire::tls's suite, a program of its own in CMake; Visual Studio builds it into tests.exe.
    Project("tests", ("engine_tests", "neutral_tests", "tls_tests")),
    Project("benchmarks", ("engine_benchmarks",)),
    Project("docs/sample", ("sample",)),
)

# Folders whose files belong to no .vcxproj and need not be in the cross-built CMake targets.
EXCLUDED_DIRS = {
    "tests/fuzz": "libFuzzer targets, built only natively with clang (no MSVC equivalent of the harness)",
    "tests/native": "Linux-native sanitizer harness, never part of the Windows build",
    "benchmarks/native": "the load driver's POSIX platform layer: the Linux-native bench_driver, never on Windows",
}

# Which MSBuild item type each source suffix becomes.
ITEM_TYPES = {".cpp": "ClCompile", ".h": "ClInclude", ".hpp": "ClInclude"}


def is_excluded(rel: str) -> bool:
    """True if the repository-relative posix path lies under an excluded folder."""
    return any(rel == d or rel.startswith(d + "/") for d in EXCLUDED_DIRS)


def source_files(root: Path, project: Project) -> list[str]:
    """Repository-relative posix paths of the sources a project owns, sorted.

    Hidden folders, excluded folders and other projects' folders (a project nested inside
    another's folder) are skipped.
    """
    others = {p.folder for p in PROJECTS if p.folder != project.folder}
    found = []
    base = root / project.folder
    for path in base.rglob("*") if base.is_dir() else ():
        rel = path.relative_to(root).as_posix()
        parts = path.relative_to(base).parts
        if (path.suffix in ITEM_TYPES and path.is_file() and not is_excluded(rel)
                and not any(p.startswith(".") for p in parts)
                and not any(rel.startswith(o + "/") for o in others)):
            found.append(rel)
    return sorted(found, key=lambda s: (s.lower(), s))


if __name__ == "__main__":
    # For CMake: the targets to export, as a CMake list.
    if sys.argv[1:] != ["--cmake-targets"]:
        sys.exit("usage: project_layout.py --cmake-targets")
    print(";".join(t for p in PROJECTS for t in p.cmake_targets))
