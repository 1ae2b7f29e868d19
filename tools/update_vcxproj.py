#!/usr/bin/env python3
"""Rewrite the source lists of every .vcxproj (and .vcxproj.filters) from the files on disk.

Usage: update_vcxproj.py [--root REPO]

Only the item groups holding nothing but <ClCompile>/<ClInclude> are replaced; everything else
in the file is kept byte for byte. A file that stays keeps its element as written (so per-file
metadata such as ExcludedFromBuild survives). What belongs to which project, and what is left
out, is defined in project_layout.py.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path, PurePosixPath

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from project_layout import ITEM_TYPES, PROJECTS, Project, source_files  # noqa: E402

# One <ItemGroup> without attributes, and one source item (self-closing or with metadata).
ITEM_GROUP = re.compile(r"^[ \t]*<ItemGroup>(.*?)</ItemGroup>[ \t]*\r?\n", re.S | re.M)
SOURCE_ITEM = re.compile(r'<(ClCompile|ClInclude)\s+Include="([^"]*)"\s*(?:/>|>.*?</\1>)', re.S)
CPP_TARGETS = re.compile(r'^[ \t]*<Import Project="\$\(VCTargetsPath\)\\Microsoft\.Cpp\.targets"', re.M)


def filter_for(project: Project, rel: str) -> str:
    """Solution Explorer folder of a file in a .filters file."""
    if ITEM_TYPES[PurePosixPath(rel).suffix] == "ClCompile":
        return "Source Files"
    return "Public Headers" if rel.startswith(f"{project.folder}/include/") else "Header Files"


def rewrite(text: str, items: dict[str, list[str]], anchor: re.Pattern[str] | None) -> str:
    """Replace the source-only item groups of `text` with one group per item type.

    `items` maps item type to rendered elements. The new groups go where the first old one was,
    else before `anchor`, else before </Project>.
    """
    nl = "\r\n" if "\r\n" in text else "\n"
    groups = [m for m in ITEM_GROUP.finditer(text)
              if SOURCE_ITEM.search(m.group(1)) and not SOURCE_ITEM.sub("", m.group(1)).strip()]
    block = "".join(f"  <ItemGroup>{nl}" + "".join(f"    {e}{nl}" for e in elems) + f"  </ItemGroup>{nl}"
                    for elems in items.values() if elems)
    for m in reversed(groups):
        text = text[:m.start()] + text[m.end():]
    if groups:
        at = groups[0].start()
    else:
        m = anchor.search(text) if anchor else None
        at = m.start() if m else text.rindex("</Project>")
    return text[:at] + block + text[at:]


def update(root: Path, project: Project) -> list[Path]:
    """Bring one project's files up to date; return the files that changed."""
    vcxproj = root / project.vcxproj
    if not vcxproj.is_file():
        print(f"skipped {project.vcxproj}: no such file", file=sys.stderr)
        return []
    files = source_files(root, project)
    rel = {f: str(PurePosixPath(f).relative_to(project.folder)).replace("/", "\\") for f in files}

    text = read(vcxproj)
    # Elements to keep as written: those whose item type still matches the file's suffix.
    kept = {m.group(2): m.group(0) for m in SOURCE_ITEM.finditer(text)
            if m.group(1) == ITEM_TYPES.get(PurePosixPath(m.group(2).replace("\\", "/")).suffix)}
    items: dict[str, list[str]] = {"ClCompile": [], "ClInclude": []}
    for f in files:
        kind = ITEM_TYPES[PurePosixPath(f).suffix]
        items[kind].append(kept.get(rel[f], f'<{kind} Include="{rel[f]}" />'))
    changed = [vcxproj] if write(vcxproj, rewrite(text, items, CPP_TARGETS)) else []

    filters = vcxproj.with_name(vcxproj.name + ".filters")
    if filters.is_file():
        text = read(filters)
        nl = "\r\n" if "\r\n" in text else "\n"
        items = {"ClCompile": [], "ClInclude": []}
        for f in files:
            kind = ITEM_TYPES[PurePosixPath(f).suffix]
            items[kind].append(f'<{kind} Include="{rel[f]}">{nl}'
                               f'      <Filter>{filter_for(project, f)}</Filter>{nl}    </{kind}>')
        if write(filters, rewrite(text, items, None)):
            changed.append(filters)
    return changed


def read(path: Path) -> str:
    """The file's text with its line endings as they are (read_text would turn CRLF into LF)."""
    return path.read_bytes().decode("utf-8-sig")


def write(path: Path, text: str) -> bool:
    """Write only on change (keeps timestamps, so Visual Studio does not reload for nothing)."""
    bom = path.read_bytes().startswith(b"\xef\xbb\xbf")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    if path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    for project in PROJECTS:
        for path in update(args.root, project):
            print(f"updated {path.relative_to(args.root).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
