#!/usr/bin/env python3
"""Fail when the Visual Studio project files disagree with the tree or with the CMake targets.

Usage: check_project_files.py --root REPO [--cmake-sources project_sources.json]
                              [--compile-commands compile_commands.json]

No Windows machine builds engine.sln here, so this is what keeps it honest: every .cpp/.h under a
project's folder (minus project_layout.EXCLUDED_DIRS) must be in its .vcxproj and in one of its
CMake targets, every listed file must exist, both x64 configurations must exist, GUIDs must be
unique and agree between the .sln and the .vcxproj files, and Directory.Build.props must keep the
compiler settings the code relies on. The Windows definitions (<WireWindowsDefinitions> in
Directory.Build.props) must be what every compile of the CMake build gets (--compile-commands),
what <wire/win32.h> insists on, and what no .vcxproj overrides; the C runtime must agree with the
vcpkg triplet in every configuration of the props and of CMakePresets.json. No program may rely
on vcpkg's auto-link: each names the vcpkg libraries whose headers it includes, and the
definitions that depend on the triplet (GTEST_LINKED_AS_SHARED_LIBRARY, BENCHMARK_STATIC_DEFINE)
follow it; a project that includes a library's public header (engine/include, tls/include)
references that library's .vcxproj and has its include folder on the include path; docs/sample
keeps to the steps of docs/consuming.md, outside the repository's props.
Prints one line per problem and exits 1, or prints "OK: N projects, M files checked". The JSON
comes from cmake/ProjectFilesCheck.cmake: {"binary_dir", "targets": [{"name", "source_dir",
"sources", "header_set"}]}, where a source is absolute or relative to source_dir.
"""
from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import shlex
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path, PurePosixPath

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from project_layout import ITEM_TYPES, PROJECTS, Project, is_excluded, source_files  # noqa: E402

MSB = "{http://schemas.microsoft.com/developer/msbuild/2003}"
CONFIGS = ("Debug|x64", "Release|x64")
SOLUTION_FOLDER = "2150E333-8FDC-42A3-9474-1A3956D46DE8"  # a folder in the .sln, not a project
SLN_PROJECT = re.compile(r'^Project\("\{([^}]*)\}"\)\s*=\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)"', re.M)
GUID = re.compile(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", re.I)

# What Directory.Build.props must keep, outside any Condition: a description and the
# (element, token) pairs of which one must be present. Tokens are the element's value split on ';'
# and whitespace, so "/utf-8" is found in "/Zc:__cplusplus /utf-8 %(AdditionalOptions)".
PROPS_REQUIRED = (
    ("C++20", [("LanguageStandard", "stdcpp20")]),
    ("/W4", [("WarningLevel", "Level4")]),
    ("/WX", [("TreatWarningAsError", "true")]),
    ("/permissive-", [("ConformanceMode", "true"), ("AdditionalOptions", "/permissive-")]),
    ("/Zc:__cplusplus", [("AdditionalOptions", "/Zc:__cplusplus")]),
    ("/utf-8", [("AdditionalOptions", "/utf-8")]),
    ("/EHsc", [("ExceptionHandling", "Sync"), ("AdditionalOptions", "/EHsc")]),
    *((d, [("PreprocessorDefinitions", d)]) for d in (
        "_WIN32_WINNT=0x0A00", "UNICODE", "_UNICODE", "WIN32_LEAN_AND_MEAN", "NOMINMAX")),
    ("the shared output folder", [("OutDir", "$(SolutionDir)out\\$(Platform)\\$(Configuration)\\")]),
    ("vcpkg manifest mode", [("VcpkgEnableManifest", "true")]),
)


def repo_path(project: Project, include: str) -> str:
    """Repository-relative posix path of an Include="..." written relative to the project."""
    return posixpath.normpath(f"{project.folder}/{include.replace(chr(92), '/')}")


def parse_xml(path: Path, problems: list[str], shown: str) -> ET.Element | None:
    try:
        return ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        problems.append(f"{shown}: cannot read it as XML ({e})")
        return None


def props_values(root: ET.Element) -> dict[str, set[str]]:
    """Tokens of every unconditional setting, with MSBuild's rule that a new value replaces the
    old one unless it refers to it ($(Name) for properties, %(Name) for item metadata)."""
    values: dict[str, set[str]] = {}

    def walk(el: ET.Element) -> None:
        for child in el:
            if not isinstance(child.tag, str) or "Condition" in child.attrib:
                continue
            if len(child):
                walk(child)
                continue
            name, text = child.tag.removeprefix(MSB), child.text or ""
            tokens = {t for t in re.split(r"[;\s]+", text) if t}
            for ref in re.findall(r"\$\((\w+)\)", text):  # $(Other): that property's tokens
                if ref != name and ref in values:
                    tokens |= values[ref]
            if f"%({name})" in text or f"$({name})" in text:
                tokens |= values.get(name, set())
            values[name] = tokens

    walk(root)
    return values


def check_props(root: Path, problems: list[str]) -> None:
    props = parse_xml(root / "Directory.Build.props", problems, "Directory.Build.props")
    if props is None:
        return
    values = props_values(props)
    for meaning, options in PROPS_REQUIRED:
        if not any(token in values.get(element, ()) for element, token in options):
            wanted = " or ".join(f"<{e}> {t}" for e, t in options)
            problems.append(f"Directory.Build.props: lost {meaning} (needs {wanted}, outside any Condition)")


WINDOWS_HEADER = "engine/include/wire/win32.h"
DEFINITIONS_PROPERTY = "WireWindowsDefinitions"
# Names that change what the Windows headers declare: one in a build and not in the list is drift
# too, even after it left the list.
WINDOWS_MACROS = {"UNICODE", "_UNICODE", "WIN32_LEAN_AND_MEAN", "NOMINMAX", "_WIN32_WINNT", "WINVER",
                  "NTDDI_VERSION", "STRICT", "NO_STRICT", "_MBCS", "_WINSOCK_DEPRECATED_NO_WARNINGS"}


def windows_definitions(root: Path, problems: list[str]) -> list[str]:
    """The one list, from Directory.Build.props: ["_WIN32_WINNT=0x0A00", "UNICODE", ...]."""
    text = (root / "Directory.Build.props").read_text(encoding="utf-8-sig")
    found = re.findall(rf"<{DEFINITIONS_PROPERTY}>([^<]*)</{DEFINITIONS_PROPERTY}>", text)
    if len(found) != 1:
        problems.append(f"Directory.Build.props: needs exactly one <{DEFINITIONS_PROPERTY}> (has {len(found)}); "
                        "cmake/WindowsDefinitions.cmake reads it")
        return []
    return [d.strip() for d in found[0].split(";") if d.strip()]


def check_definitions(root: Path, problems: list[str], compile_commands: Path | None) -> None:
    """The Windows definitions are the same for the props, every CMake compile, every .vcxproj and
    <wire/win32.h>'s #error guard."""
    wanted = windows_definitions(root, problems)
    if not wanted:
        return
    names = {d.split("=")[0] for d in wanted}
    watched = names | WINDOWS_MACROS

    header = root / WINDOWS_HEADER
    if not header.is_file():
        problems.append(f"{WINDOWS_HEADER}: missing (the one header that includes Windows headers)")
    else:
        guarded = set(re.findall(r"!\s*defined\s*\(\s*(\w+)\s*\)", header.read_text(encoding="utf-8")))
        for name in sorted(names - guarded):
            problems.append(f"{WINDOWS_HEADER}: does not #error without {name}, which Directory.Build.props defines")
        for name in sorted(guarded - names):
            problems.append(f"{WINDOWS_HEADER}: insists on {name}, which Directory.Build.props does not define")

    for project in PROJECTS:
        path = root / project.vcxproj
        if not path.is_file() or (xml := parse_xml(path, problems, project.vcxproj)) is None:
            continue
        for el in xml.iter(MSB + "CharacterSet"):
            if (el.text or "").strip() != "Unicode":
                problems.append(f"{project.vcxproj}: CharacterSet {el.text} (must be Unicode, as UNICODE is defined)")
        for el in xml.iter(MSB + "PreprocessorDefinitions"):
            text = el.text or ""
            if "%(PreprocessorDefinitions)" not in text:
                problems.append(f"{project.vcxproj}: PreprocessorDefinitions without %(PreprocessorDefinitions) "
                                "drops the Windows definitions of Directory.Build.props")
            for d in (t.strip() for t in text.split(";")):
                if d.split("=")[0] in watched and d not in wanted:
                    problems.append(f"{project.vcxproj}: defines {d}, Directory.Build.props {' '.join(wanted)}")

    if compile_commands is None:
        return
    try:
        entries = json.loads(compile_commands.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        problems.append(f"{compile_commands}: cannot read it ({e})")
        return
    real_root = os.path.realpath(root)
    checked = 0
    for entry in entries:
        source = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
        if not source.startswith(real_root + os.sep):
            continue
        checked += 1
        args = entry.get("arguments") or shlex.split(entry["command"])
        defined = [a[2:] for a in args if a.startswith("-D") and len(a) > 2]
        defined += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-D"]
        ours = {d for d in defined if d.split("=")[0] in watched}
        if ours != set(wanted):
            rel = Path(source).relative_to(real_root).as_posix()
            problems.append(f"CMake: {rel} is compiled with {' '.join(sorted(ours)) or 'none of them'}, "
                            f"Directory.Build.props defines {' '.join(wanted)}")
    if checked == 0:
        problems.append(f"{compile_commands}: no compile of a file under {root}")


def props_of(root: Path, project: str | None) -> Path:
    """The Directory.Build.props MSBuild imports for a project: the first one found from the
    project's folder up to the repository root (docs/sample has its own, which stops the search)."""
    folder = (root / project).parent if project else root
    while folder != root and not (folder / "Directory.Build.props").is_file():
        folder = folder.parent
    return folder / "Directory.Build.props"


def evaluate(root: Path, given: dict[str, str],
             project: str | None = None) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Properties and item definitions (ClCompile, Link, ... metadata) of the Directory.Build.props
    MSBuild imports for `project` (props_of), then of `project` (a .vcxproj, repository-relative) if given, for the given global properties,
    following MSBuild's order: every property first, then every item definition, a metadata value
    replacing the earlier one unless it names it (%(Name)). Conditions of the forms '$(A)' == 'x'
    and '$(A)' != 'x', joined by and / or, are all these files use (the imports, whose conditions
    are exists(...), are not followed). $(MSBuildThisFileDirectory) is the folder of the file being
    read and $(ProjectDir) the project's, both absolute with a trailing slash, as in MSBuild."""
    files = [props_of(root, project)] + ([root / project] if project else [])
    xmls = [ET.parse(f).getroot() for f in files]
    props = {"ProjectDir": (root / project).parent.as_posix() + "/" if project else root.as_posix() + "/", **given}

    def expand(text: str) -> str:
        return re.sub(r"\$\((\w+)\)", lambda m: props.get(m.group(1), ""), text)

    def holds(el: ET.Element) -> bool:
        condition = el.get("Condition")
        if condition is None:
            return True
        results = []
        for part in re.split(r"\s+or\s+", condition.strip(), flags=re.I):
            ok = True
            for test in re.split(r"\s+and\s+", part, flags=re.I):
                m = re.fullmatch(r"\s*'([^']*)'\s*(==|!=)\s*'([^']*)'\s*", test)
                if not m:
                    raise ValueError(f"condition not understood: {condition}")
                left, op, right = expand(m.group(1)), m.group(2), expand(m.group(3))
                ok = ok and ((left.lower() == right.lower()) == (op == "=="))
            results.append(ok)
        return any(results)

    for file, xml in zip(files, xmls):
        props["MSBuildThisFileDirectory"] = file.parent.as_posix() + "/"
        for group in xml:
            if group.tag == MSB + "PropertyGroup" and holds(group):
                for el in group:
                    if isinstance(el.tag, str) and holds(el):
                        props[el.tag.removeprefix(MSB)] = expand(el.text or "").strip()
    items: dict[str, dict[str, str]] = defaultdict(dict)
    for file, xml in zip(files, xmls):
        props["MSBuildThisFileDirectory"] = file.parent.as_posix() + "/"
        for group in xml:
            if group.tag != MSB + "ItemDefinitionGroup" or not holds(group):
                continue
            for item in group:
                if not isinstance(item.tag, str) or not holds(item):
                    continue
                kind = items[item.tag.removeprefix(MSB)]
                for el in item:
                    if isinstance(el.tag, str) and holds(el):
                        name = el.tag.removeprefix(MSB)
                        value = re.sub(r"%\((\w+)\)", lambda m: kind.get(m.group(1), ""), expand(el.text or ""))
                        kind[name] = value.strip()
    return props, items


def evaluate_props(root: Path, given: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Properties and ClCompile metadata of Directory.Build.props alone."""
    props, items = evaluate(root, given)
    return props, items["ClCompile"]


def tokens(value: str) -> list[str]:
    return [t.strip() for t in value.split(";") if t.strip()]


# The precompiled vcpkg libraries the sources may use: the folder of their headers (#include
# <gtest/gtest.h>) and the library a program must then link, the same name in Debug and Release
# at vcpkg.json's baseline (none of these ports has a debug postfix; vcpkg points the linker at
# debug\lib in Debug). GSL and Asio are header-only.
VCPKG_LIBRARIES = {"gtest": "gtest.lib", "gmock": "gmock.lib", "benchmark": "benchmark.lib", "CLI": "CLI11.lib"}
INCLUDED_FOLDER = re.compile(r"^[ \t]*#[ \t]*include[ \t]*<(\w+)/", re.M)
DEFINES_MAIN = re.compile(r"^[ \t]*int[ \t]+(?:wmain|main)[ \t]*\(", re.M)
CONFIGURATIONS = tuple((config, static) for config in ("Debug", "Release") for static in (False, True))


def each_configuration(vcxproj: str):
    """(label for messages, properties given to MSBuild, configuration, static CRT) for each
    configuration a project is built in."""
    for config, static in CONFIGURATIONS:
        given = {"Configuration": config, "Platform": "x64"}
        if static:
            given["WireStaticCrt"] = "true"
        yield f"{vcxproj} ({config}{', WireStaticCrt=true' if static else ''})", given, config, static


SAMPLE = "docs/sample/sample.vcxproj"


def check_sample(root: Path, problems: list[str]) -> None:
    """docs/sample stands for a project outside the repository, set up by docs/consuming.md's
    Visual Studio steps alone: its own Directory.Build.props stops the repository's, and each
    configuration has the engine's and GSL's include folders (step 4), C++20 (step 5) and, with
    WireStaticCrt=true, the static CRT and the static triplet's headers."""
    if not (root / SAMPLE).is_file():
        return
    own = root / "docs/sample/Directory.Build.props"
    if not own.is_file():
        problems.append(f"{SAMPLE}: inherits the repository's Directory.Build.props (docs/sample needs one of its own "
                        "that stops it, to stand for a project outside the repository)")
        return
    if re.search(r"<Import\b", own.read_text(encoding="utf-8-sig")):
        problems.append("docs/sample/Directory.Build.props: imports another file (the repository's settings would reach the sample)")
    for shown, given, config, static in each_configuration(SAMPLE):
        try:
            _, items = evaluate(root, given, SAMPLE)
        except (ValueError, OSError, ET.ParseError) as e:
            problems.append(f"{shown}: {e}")
            return
        compile_settings = items["ClCompile"]
        if compile_settings.get("LanguageStandard") != "stdcpp20":
            problems.append(f"{shown}: LanguageStandard {compile_settings.get('LanguageStandard') or '(none)'}, "
                            "the document's step 5 says stdcpp20")
        triplet = "x64-windows-static" if static else "x64-windows"
        includes = [d.replace("/", "\\").rstrip("\\") for d in tokens(compile_settings.get("AdditionalIncludeDirectories", ""))]
        for wanted in ("..\\..\\engine\\include", f"..\\..\\vcpkg_installed\\{triplet}\\include"):
            if wanted not in includes:
                problems.append(f"{shown}: does not include {wanted} (the document's step 4)")
        crt = compile_settings.get("RuntimeLibrary", "")
        if static and crt != "MultiThreaded" + ("Debug" if config == "Debug" else ""):
            problems.append(f"{shown}: RuntimeLibrary {crt or '(the default DLL CRT)'}: the engine then uses the static CRT")
        elif not static and crt and not crt.endswith("DLL"):
            problems.append(f"{shown}: RuntimeLibrary {crt}: the engine uses the DLL CRT")


def check_linking(root: Path, problems: list[str]) -> None:
    """What each program links from vcpkg, in every configuration and with either triplet: no
    program may rely on vcpkg's auto-link (which links every lib\\*.lib: with the DLL triplet the
    tests then register in gmock.dll's copy of GoogleTest and gtest_main runs an empty registry),
    each names the libraries whose headers its sources include, and the definitions that say how
    a library is linked follow the triplet (GTEST_LINKED_AS_SHARED_LIBRARY=1 only for the DLLs of
    x64-windows, BENCHMARK_STATIC_DEFINE only for x64-windows-static)."""
    for project in PROJECTS:
        if not (root / project.vcxproj).is_file():
            continue
        used, has_main = set(), False
        for rel in source_files(root, project):
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
            used |= {f for f in INCLUDED_FOLDER.findall(text) if f in VCPKG_LIBRARIES}
            has_main = has_main or bool(DEFINES_MAIN.search(text))
        for shown, given, config, static in each_configuration(project.vcxproj):
            try:
                props, items = evaluate(root, given, project.vcxproj)
            except (ValueError, OSError, ET.ParseError) as e:
                problems.append(f"{shown}: {e}")
                return
            triplet = props.get("VcpkgTriplet", "")
            dynamic = not triplet.endswith("-static")
            defined = {d.split("=")[0]: d for d in tokens(items["ClCompile"].get("PreprocessorDefinitions", ""))}
            if "BENCHMARK_STATIC_DEFINE" in defined and dynamic:
                problems.append(f"{shown}: defines BENCHMARK_STATIC_DEFINE with the DLL triplet {triplet} "
                                "(benchmark.dll: its functions must be declared dllimport); only x64-windows-static wants it")
            elif "benchmark" in used and not dynamic and "BENCHMARK_STATIC_DEFINE" not in defined:
                problems.append(f"{shown}: includes <benchmark/...> without BENCHMARK_STATIC_DEFINE, which "
                                f"the static triplet {triplet} needs (its benchmark.lib exports nothing)")
            if "gtest" in used:
                shared = defined.get("GTEST_LINKED_AS_SHARED_LIBRARY")
                if dynamic and shared != "GTEST_LINKED_AS_SHARED_LIBRARY=1":
                    problems.append(f"{shown}: GoogleTest is gtest.dll with the triplet {triplet}: needs "
                                    "GTEST_LINKED_AS_SHARED_LIBRARY=1 (its flags and registry are imported data)")
                elif not dynamic and shared:
                    problems.append(f"{shown}: defines {shared} with the static triplet {triplet}, whose gtest.lib is static")
            if props.get("ConfigurationType") != "Application":
                continue
            if not used:
                continue
            if props.get("VcpkgAutoLink", "true").lower() != "false":
                what = "GoogleTest" if "gtest" in used else ", ".join(VCPKG_LIBRARIES[f] for f in sorted(used))
                problems.append(f"{shown}: relies on vcpkg's auto-link for {what} (VcpkgAutoLink is not false): "
                                "it links every lib\*.lib, gmock.lib before gtest.lib, and a test program then "
                                "runs no test and passes; name each library instead")
                continue
            linked = {d.lower() for d in tokens(items["Link"].get("AdditionalDependencies", ""))}
            for folder in sorted(used):
                if VCPKG_LIBRARIES[folder].lower() not in linked:
                    problems.append(f"{shown}: includes <{folder}/...> but does not link {VCPKG_LIBRARIES[folder]} "
                                    "(AdditionalDependencies; vcpkg's auto-link is off)")
            if "gtest" in used and not has_main and "gtest_main.lib" not in linked:
                problems.append(f"{shown}: defines no main() and does not link gtest_main.lib")
            if "gmock.lib" in linked and "gmock" not in used:
                problems.append(f"{shown}: links gmock.lib, which no source includes (with the DLL triplet "
                                "gmock.dll carries a GoogleTest of its own)")


INCLUDED_FILE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]', re.M)


def public_headers(root: Path) -> dict[str, list[Project]]:
    """Each public header as it is included ("wire/tls.h") -> the library projects whose include/
    folder holds it: a project with an include/ folder is a library others may use."""
    owners: dict[str, list[Project]] = defaultdict(list)
    for project in PROJECTS:
        prefix = f"{project.folder}/include/"
        for rel in source_files(root, project):
            if rel.startswith(prefix):
                owners[rel.removeprefix(prefix)].append(project)
    return owners


def check_library_use(root: Path, problems: list[str]) -> None:
    """A project that includes a library's public header (<wire/tls.h>: tls/include) references
    that library's .vcxproj, so that Visual Studio builds and links it (nothing else names
    engine.lib or wire_tls.lib), and has its include/ folder on the include path in every
    configuration (the library itself too, for its own headers). A header in two libraries'
    include/ folders is ambiguous: the include path's order would choose."""
    owners = public_headers(root)
    for header, libraries in sorted(owners.items()):
        if len(libraries) > 1:
            problems.append(f"<{header}> is in {' and '.join(f'{p.folder}/include' for p in libraries)}: "
                            "the include path's order would decide which one a program gets")
    for project in PROJECTS:
        path = root / project.vcxproj
        if not path.is_file() or (xml := parse_xml(path, problems, project.vcxproj)) is None:
            continue
        used: dict[Project, str] = {}
        for rel in source_files(root, project):
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
            for header in INCLUDED_FILE.findall(text):
                for library in owners.get(header, ()):
                    used.setdefault(library, header)
        if not used:
            continue
        referenced = {repo_path(project, ref.get("Include", "")) for ref in xml.iter(MSB + "ProjectReference")}
        for library, header in sorted(used.items(), key=lambda item: item[0].folder):
            if library.folder != project.folder and library.vcxproj not in referenced:
                problems.append(f"{project.vcxproj}: includes <{header}> but has no ProjectReference to "
                                f"{library.vcxproj} (which builds and links its library)")
        for shown, given, config, static in each_configuration(project.vcxproj):
            try:
                _, items = evaluate(root, given, project.vcxproj)
            except (ValueError, OSError, ET.ParseError) as e:
                problems.append(f"{shown}: {e}")
                return
            folder = (root / project.folder).as_posix()
            found = {posixpath.normpath(posixpath.join(folder, d.replace("\\", "/")))
                     for d in tokens(items["ClCompile"].get("AdditionalIncludeDirectories", ""))}
            for library, header in sorted(used.items(), key=lambda item: item[0].folder):
                if (root / library.folder / "include").as_posix() not in found:
                    problems.append(f"{shown}: includes <{header}> but {library.folder}/include is not on its "
                                    "include path (AdditionalIncludeDirectories)")


def check_runtime(root: Path, problems: list[str]) -> None:
    """The CRT of every configuration agrees with its vcpkg triplet (LNK2038 otherwise): /MD by
    default, the static CRT only with WireStaticCrt=true; and so for the CMake presets."""
    for config in ("Debug", "Release"):
        for static in (None, "true"):
            given = {"Configuration": config, "Platform": "x64"}
            if static:
                given["WireStaticCrt"] = static
            shown = f"Directory.Build.props ({config}{', WireStaticCrt=true' if static else ''})"
            try:
                props, compile_settings = evaluate_props(root, given)
            except (ValueError, OSError, ET.ParseError) as e:
                problems.append(f"{shown}: {e}")
                return
            crt, triplet = compile_settings.get("RuntimeLibrary", ""), props.get("VcpkgTriplet", "")
            expected = "MultiThreaded" + ("Debug" if config == "Debug" else "") + ("" if static else "DLL")
            if crt != expected:
                problems.append(f"{shown}: RuntimeLibrary {crt or '(none)'}, expected {expected}")
            if triplet.endswith("-static") != bool(static) or not triplet.startswith("x64-windows"):
                problems.append(f"{shown}: vcpkg triplet {triplet or '(none)'} does not match RuntimeLibrary {crt}")
            if props.get("VcpkgUseStatic", "false").lower() != ("true" if static else "false"):
                problems.append(f"{shown}: VcpkgUseStatic {props.get('VcpkgUseStatic')} does not match the triplet")

    presets_path = root / "CMakePresets.json"
    if not presets_path.is_file():
        return
    presets = {p["name"]: p for p in json.loads(presets_path.read_text(encoding="utf-8")).get("configurePresets", [])}

    def cache(name: str, seen: tuple[str, ...] = ()) -> dict[str, object]:
        preset, merged = presets.get(name, {}), {}
        inherits = preset.get("inherits", [])
        for parent in reversed([inherits] if isinstance(inherits, str) else inherits):
            if parent not in seen:
                merged.update(cache(parent, seen + (name,)))
        merged.update(preset.get("cacheVariables", {}))
        return merged

    for name, preset in presets.items():
        if preset.get("hidden"):
            continue
        variables = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in cache(name).items()}
        triplet, crt = variables.get("VCPKG_TARGET_TRIPLET"), variables.get("CMAKE_MSVC_RUNTIME_LIBRARY")
        if triplet is None:
            continue
        if crt is None:
            problems.append(f"CMakePresets.json: {name} sets VCPKG_TARGET_TRIPLET {triplet} but not CMAKE_MSVC_RUNTIME_LIBRARY")
        elif str(triplet).endswith("-static") == ("DLL" in str(crt)):
            problems.append(f"CMakePresets.json: {name}: CMAKE_MSVC_RUNTIME_LIBRARY {crt} does not match triplet {triplet}")


def load_cmake(path: Path) -> dict[str, set[str]]:
    """Target name -> real paths of its sources, generated files (under binary_dir) left out."""
    data = json.loads(path.read_text(encoding="utf-8"))
    binary = os.path.realpath(data.get("binary_dir") or "/nonexistent")
    targets = {}
    for t in data["targets"]:
        listed = t.get("sources", []) + t.get("header_set", [])
        paths = {os.path.realpath(os.path.join(t["source_dir"], s)) for s in listed if s}
        targets[t["name"]] = {p for p in paths if not p.startswith(binary + os.sep)}
    return targets


def check_project(root: Path, project: Project, problems: list[str],
                  cmake: dict[str, set[str]] | None) -> tuple[str, list[str]]:
    """Check one .vcxproj (and its .filters, and its CMake targets); return its GUID and files."""
    shown = project.vcxproj
    on_disk = source_files(root, project)
    xml = parse_xml(root / shown, problems, shown) if (root / shown).is_file() else None
    if xml is None:
        if not (root / shown).is_file():
            problems.append(f"{shown}: missing")
        return "", on_disk

    listed = {}
    for tag in ("ClCompile", "ClInclude"):
        for el in xml.iter(MSB + tag):
            if "Include" not in el.attrib:  # an ItemDefinitionGroup's settings, not a file
                continue
            rel = repo_path(project, el.attrib["Include"])
            listed[rel] = tag
            kind = ITEM_TYPES.get(PurePosixPath(rel).suffix)
            if not (root / rel).is_file():
                problems.append(f"{shown}: lists {rel}, which does not exist")
            elif is_excluded(rel):
                problems.append(f"{shown}: lists {rel}, which project_layout.py excludes from Visual Studio")
            elif kind and kind != tag:
                problems.append(f"{shown}: {rel} is a <{tag}> but should be a <{kind}>")
    for rel in on_disk:
        if rel not in listed:
            problems.append(f"{shown}: does not list {rel} (run tools/update_vcxproj.py)")

    configs = {el.get("Include") for el in xml.iter(MSB + "ProjectConfiguration")}
    for config in CONFIGS:
        if config not in configs:
            problems.append(f"{shown}: no ProjectConfiguration {config}")

    guids = [el.text or "" for el in xml.iter(MSB + "ProjectGuid")]
    guid = guids[0].strip().upper() if guids else ""
    if not GUID.fullmatch(guid):
        problems.append(f"{shown}: ProjectGuid {guid or '(none)'} is not a {{GUID}}")

    for ref in xml.iter(MSB + "ProjectReference"):
        target = repo_path(project, ref.get("Include", ""))
        if not (root / target).is_file():
            problems.append(f"{shown}: ProjectReference {target} does not exist")
        elif (other := parse_xml(root / target, problems, target)) is not None:
            theirs = [el.text or "" for el in other.iter(MSB + "ProjectGuid")]
            ours = (ref.findtext(MSB + "Project") or "").strip().upper()
            if theirs and ours != theirs[0].strip().upper():
                problems.append(f"{shown}: ProjectReference to {target} says {ours}, the project says {theirs[0]}")

    check_filters(root, project, set(listed), problems)
    if cmake is not None:
        check_cmake(root, project, on_disk, cmake, problems)
    return guid, on_disk


def check_filters(root: Path, project: Project, listed: set[str], problems: list[str]) -> None:
    """A .filters file must place exactly the .vcxproj's files, each in a defined filter."""
    shown = project.vcxproj + ".filters"
    if not (root / shown).is_file() or (xml := parse_xml(root / shown, problems, shown)) is None:
        return
    defined = {el.get("Include") for el in xml.iter(MSB + "Filter") if el.get("Include")}
    placed = set()
    for tag in ("ClCompile", "ClInclude"):
        for el in xml.iter(MSB + tag):
            if "Include" not in el.attrib:
                continue
            rel = repo_path(project, el.attrib["Include"])
            placed.add(rel)
            where = el.findtext(MSB + "Filter")
            if where is not None and where not in defined:
                problems.append(f"{shown}: {rel} is in filter '{where}', which is not defined")
    for rel in sorted(listed - placed):
        problems.append(f"{shown}: does not place {rel} (run tools/update_vcxproj.py)")
    for rel in sorted(placed - listed):
        problems.append(f"{shown}: places {rel}, which the .vcxproj does not list")


def check_cmake(root: Path, project: Project, on_disk: list[str], cmake: dict[str, set[str]],
                problems: list[str]) -> None:
    present = [t for t in project.cmake_targets if t in cmake]
    if not present:
        if on_disk:
            problems.append(f"CMake: no target {' or '.join(project.cmake_targets)} for {project.folder}/")
        return
    union = set().union(*(cmake[t] for t in present))
    for rel in on_disk:
        if os.path.realpath(root / rel) not in union:
            problems.append(f"CMake: {rel} is in no target of {project.folder}/ ({', '.join(present)})")
    for t in present:
        for path in sorted(cmake[t]):
            if not os.path.isfile(path):
                shown = Path(path).relative_to(root) if Path(path).is_relative_to(root) else path
                problems.append(f"CMake: target {t} lists {shown}, which does not exist")


def check_solution(root: Path, guids: dict[str, str], problems: list[str]) -> None:
    """guids: .vcxproj path -> its ProjectGuid."""
    path = root / "engine.sln"
    if not path.is_file():
        problems.append("engine.sln: missing")
        return
    text = path.read_text(encoding="utf-8-sig")
    in_sln, owners = {}, defaultdict(list)
    for kind, name, rel, guid in SLN_PROJECT.findall(text):
        if kind.upper() == SOLUTION_FOLDER:
            continue
        rel, guid = posixpath.normpath(rel.replace("\\", "/")), guid.upper()
        in_sln[rel] = guid
        owners[guid].append(rel)
        if rel not in guids:
            problems.append(f"engine.sln: lists {rel}, which project_layout.py does not know")
        for config in CONFIGS:
            if f"{guid}.{config}.Build.0".upper() not in text.upper():
                problems.append(f"engine.sln: does not build {name} in {config}")
    for guid, rels in owners.items():
        if len(rels) > 1:
            problems.append(f"engine.sln: GUID {guid} is used by {' and '.join(rels)}")
    for rel, guid in guids.items():
        if rel not in in_sln:
            problems.append(f"engine.sln: does not include {rel}")
        elif guid and in_sln[rel] != guid:
            problems.append(f"engine.sln: {rel} has GUID {in_sln[rel]} but its ProjectGuid is {guid}")
    for config in CONFIGS:
        if f"{config} = {config}" not in text:
            problems.append(f"engine.sln: no solution configuration {config}")


def check(root: Path, cmake_json: Path | None,
          compile_commands: Path | None = None) -> tuple[list[str], int]:
    """All problems found, and how many source files were checked."""
    problems: list[str] = []
    cmake = load_cmake(cmake_json) if cmake_json else None
    guids, files = {}, 0
    owners = defaultdict(list)
    for project in PROJECTS:
        guid, on_disk = check_project(root, project, problems, cmake)
        guids[project.vcxproj] = guid
        files += len(on_disk)
        if guid:
            owners[guid].append(project.vcxproj)
    for guid, rels in owners.items():
        if len(rels) > 1:
            problems.append(f"{' and '.join(rels)}: same ProjectGuid {guid}")
    check_solution(root, guids, problems)
    check_props(root, problems)
    check_definitions(root, problems, compile_commands)
    check_runtime(root, problems)
    check_linking(root, problems)
    check_library_use(root, problems)
    check_sample(root, problems)
    return problems, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="repository root")
    parser.add_argument("--cmake-sources", type=Path,
                        help="project_sources.json written by CMake; without it CMake targets are not checked")
    parser.add_argument("--compile-commands", type=Path,
                        help="compile_commands.json of the CMake build: every compile must get the Windows definitions")
    args = parser.parse_args(argv)
    problems, files = check(args.root.resolve(), args.cmake_sources, args.compile_commands)
    for line in problems:
        print(line)
    if problems:
        return 1
    note = "" if args.cmake_sources else " (CMake targets not checked)"
    print(f"OK: {len(PROJECTS)} projects, {files} files checked{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
