#!/usr/bin/env python3
"""Self-test of check_project_files.py (and update_vcxproj.py): the checker passes on an intact
tree and fails, naming the problem, on each kind of drift it exists to catch.

Each test copies the repository's real project files next to a small fake source tree, fills the
item groups with update_vcxproj.py, writes a CMake source list, breaks one thing and checks.
Run: python3 tools/test_check_project_files.py (registered in CTest as project_files_selftest).
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import check_project_files  # noqa: E402
import update_vcxproj  # noqa: E402
from project_layout import PROJECTS  # noqa: E402

FAKE_TREE = (
    "engine/include/wire/api.h",
    "engine/include/wire/win32.h",  # replaced by the real one: its #error guard is checked
    "engine/src/core/queue.cpp",
    "engine/src/core/queue.h",
    "engine/src/win/port.cpp",
    "tls/include/wire/tls.h",
    "tls/src/session.cpp",
    "tls/src/session.h",
    "server/main.cpp",
    "client/main.cpp",
    "tests/queue_test.cpp",
    "tests/fuzz/fuzz_frame.cpp",  # excluded by project_layout: in no .vcxproj, no CMake target
    "benchmarks/echo_bench.cpp",
    "docs/sample/sample.cpp",
)
# What the fake sources include, so that the link checks see the libraries the real ones use.
FAKE_CONTENT = {
    "tls/src/session.cpp": "#include <wire/api.h>\n#include <wire/tls.h>\n#include \"session.h\"\n",
    "server/main.cpp": "#include <CLI/CLI.hpp>\n#include <wire/api.h>\n#include <wire/tls.h>\n",
    "client/main.cpp": "#include <CLI/CLI.hpp>\n",
    "tests/queue_test.cpp": "#include <gtest/gtest.h>\n",
    "benchmarks/echo_bench.cpp": "#include <benchmark/benchmark.h>\nint main() {}\n",
}


class CheckProjectFilesTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name)
        copied = ["engine.sln", "Directory.Build.props", "docs/sample/Directory.Build.props"]
        for p in PROJECTS:
            copied += [p.vcxproj, p.vcxproj + ".filters"]
        for rel in copied:
            if (REPO / rel).is_file():
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(REPO / rel, self.root / rel)
        for rel in FAKE_TREE:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_text("// fake\n" + FAKE_CONTENT.get(rel, ""))
        for rel in ("engine/include/wire/win32.h", "CMakePresets.json"):
            shutil.copyfile(REPO / rel, self.root / rel)
        self.assertEqual(self.update(), 0)
        self.cmake_json = self.root / "build" / "project_sources.json"
        self.write_cmake()
        self.compile_commands = self.root / "build" / "compile_commands.json"
        self.write_compile_commands()

    def update(self) -> int:
        with contextlib.redirect_stdout(io.StringIO()):
            return update_vcxproj.main(["--root", str(self.root)])

    def write_cmake(self, drop: str = "", extra: str = "") -> None:
        """Put each project's files in its first CMake target, as CMake would report them: the
        engine's relative to its source dir, the others absolute, plus a generated file."""
        targets = []
        for p in PROJECTS:
            files = [f for f in FAKE_TREE if f.startswith(p.folder + "/") and "/fuzz/" not in f and f != drop]
            if p.folder == "engine":
                sources = [f.removeprefix("engine/") for f in files]
            else:
                sources = [str(self.root / f) for f in files]
            targets.append({"name": p.cmake_targets[0], "source_dir": str(self.root / p.folder),
                            "sources": sources + [str(self.root / "build" / "generated.cpp")], "header_set": []})
        if extra:
            targets[0]["sources"].append(extra)
        self.cmake_json.parent.mkdir(exist_ok=True)
        self.cmake_json.write_text(json.dumps({"binary_dir": str(self.root / "build"), "targets": targets}))

    def write_compile_commands(self, definitions: list[str] | None = None) -> None:
        """One compile per fake .cpp, with the props' Windows definitions (or the ones given)."""
        if definitions is None:
            definitions = check_project_files.windows_definitions(self.root, [])
        flags = " ".join(f"-D{d}" for d in ["ASIO_STANDALONE", *definitions])
        entries = [{"directory": str(self.root / "build"), "file": str(self.root / f),
                    "command": f"g++ {flags} -O2 -c {self.root / f}"}
                   for f in FAKE_TREE if f.endswith(".cpp") and "/fuzz/" not in f]
        self.compile_commands.write_text(json.dumps(entries))

    def problems(self) -> list[str]:
        return check_project_files.check(self.root, self.cmake_json, self.compile_commands)[0]

    def assertFails(self, *fragments: str) -> None:
        problems = self.problems()
        for fragment in fragments:
            self.assertTrue(any(fragment in p for p in problems), f"no problem mentions {fragment!r}: {problems}")

    def edit(self, rel: str, pattern: str, replacement: str) -> None:
        """Regex-edit a copied file, failing if the pattern is not there (the test would be void)."""
        path = self.root / rel
        text, n = re.subn(pattern, replacement, path.read_text(), flags=re.S)
        self.assertGreater(n, 0, f"{pattern!r} not found in {rel}")
        path.write_text(text)

    def guid_of(self, rel: str) -> str:
        return re.search(r"<ProjectGuid>(\{[^}]+\})</ProjectGuid>", (self.root / rel).read_text()).group(1)

    def test_intact_tree_passes(self) -> None:
        self.assertEqual(self.problems(), [])
        run = subprocess.run([sys.executable, "-B", str(TOOLS / "check_project_files.py"), "--root", str(self.root),
                              "--cmake-sources", str(self.cmake_json), "--compile-commands", str(self.compile_commands)],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertEqual(run.stdout.strip(), f"OK: {len(PROJECTS)} projects, {len(FAKE_TREE) - 1} files checked")

    def test_updater_is_idempotent_and_skips_excluded_folders(self) -> None:
        before = {p: (self.root / p.vcxproj).read_bytes() for p in PROJECTS}
        self.assertEqual(self.update(), 0)
        self.assertEqual(before, {p: (self.root / p.vcxproj).read_bytes() for p in PROJECTS})
        self.assertNotIn("fuzz", (self.root / "tests/tests.vcxproj").read_text())

    def test_cpp_dropped_from_vcxproj(self) -> None:
        self.edit("engine/engine.vcxproj", r'[ \t]*<ClCompile Include="src\\core\\queue\.cpp" />\n', "")
        self.assertFails("engine/engine.vcxproj: does not list engine/src/core/queue.cpp")

    def test_listed_file_missing(self) -> None:
        (self.root / "engine/src/win/port.cpp").unlink()
        self.assertFails("engine/engine.vcxproj: lists engine/src/win/port.cpp, which does not exist",
                         "CMake: target engine lists")

    def test_project_lacks_release_configuration(self) -> None:
        self.edit("server/server.vcxproj",
                  r'[ \t]*<ProjectConfiguration Include="Release\|x64">.*?</ProjectConfiguration>\n', "")
        self.assertFails("server/server.vcxproj: no ProjectConfiguration Release|x64")

    def test_guids_clash(self) -> None:
        server, client = self.guid_of("server/server.vcxproj"), self.guid_of("client/client.vcxproj")
        self.edit("client/client.vcxproj", re.escape(client), server)
        self.edit("engine.sln", re.escape(client), server)
        self.assertFails("same ProjectGuid", f"engine.sln: GUID {server} is used by")

    def test_solution_guid_differs_from_project(self) -> None:
        client = self.guid_of("client/client.vcxproj")
        self.edit("engine.sln", re.escape(client), "{00000000-0000-0000-0000-000000000001}")
        self.assertFails("engine.sln: client/client.vcxproj has GUID {00000000-0000-0000-0000-000000000001}")

    def test_solution_misses_project(self) -> None:
        self.edit("engine.sln", r'Project\("[^"]*"\) = "sample".*?EndProject\n', "")
        self.assertFails("engine.sln: does not include docs/sample/sample.vcxproj")

    def test_props_loses_permissive(self) -> None:
        self.edit("Directory.Build.props", "<ConformanceMode>true", "<ConformanceMode>false")
        self.assertFails("Directory.Build.props: lost /permissive-")

    def test_props_setting_only_under_a_condition_does_not_count(self) -> None:
        self.edit("Directory.Build.props", "<ItemDefinitionGroup>",
                  "<ItemDefinitionGroup Condition=\"'$(Configuration)' == 'Debug'\">")
        self.assertFails("Directory.Build.props: lost C++20", "Directory.Build.props: lost /utf-8")

    def test_cmake_target_misses_a_file(self) -> None:
        self.write_cmake(drop="tests/queue_test.cpp")
        self.assertFails("CMake: tests/queue_test.cpp is in no target of tests/")

    def test_cmake_target_lists_absent_file(self) -> None:
        self.write_cmake(extra="src/ghost.cpp")
        self.assertFails("ghost.cpp, which does not exist")

    # ---- the Windows definitions: one list, the same in both builds -----------------------------

    def test_cmake_compile_lacks_a_definition(self) -> None:
        wanted = check_project_files.windows_definitions(self.root, [])
        self.assertIn("UNICODE", wanted)
        self.write_compile_commands([d for d in wanted if d != "UNICODE"])
        self.assertFails("CMake: server/main.cpp is compiled with", "Directory.Build.props defines")

    def test_cmake_compile_has_another_value(self) -> None:
        wanted = check_project_files.windows_definitions(self.root, [])
        self.write_compile_commands([d if not d.startswith("_WIN32_WINNT=") else "_WIN32_WINNT=0x0601" for d in wanted])
        self.assertFails("_WIN32_WINNT=0x0601")

    def test_props_list_loses_a_definition(self) -> None:
        self.edit("Directory.Build.props", r"(<WireWindowsDefinitions>[^<]*);NOMINMAX", r"\1")
        self.assertFails("Directory.Build.props: lost NOMINMAX", "insists on NOMINMAX, which Directory.Build.props",
                         "CMake: client/main.cpp is compiled with")

    def test_header_stops_insisting(self) -> None:
        self.edit("engine/include/wire/win32.h", r"!defined\(_UNICODE\) \|\| ", "")
        self.assertFails("win32.h: does not #error without _UNICODE")

    def test_project_uses_multibyte(self) -> None:
        self.edit("client/client.vcxproj", "<CharacterSet>Unicode</CharacterSet>", "<CharacterSet>MultiByte</CharacterSet>")
        self.assertFails("client/client.vcxproj: CharacterSet MultiByte")

    def test_project_replaces_the_definitions(self) -> None:
        self.edit("server/server.vcxproj", r"(<ItemGroup Label=\"ProjectConfigurations\">)",
                  r"<ItemDefinitionGroup><ClCompile><PreprocessorDefinitions>_WIN32_WINNT=0x0601</PreprocessorDefinitions>"
                  r"</ClCompile></ItemDefinitionGroup>\1")
        self.assertFails("without %(PreprocessorDefinitions)", "server/server.vcxproj: defines _WIN32_WINNT=0x0601")

    # ---- the C runtime agrees with the vcpkg triplet ---------------------------------------------

    def test_default_crt_is_static(self) -> None:
        self.edit("Directory.Build.props", "<RuntimeLibrary>MultiThreadedDLL</RuntimeLibrary>",
                  "<RuntimeLibrary>MultiThreaded</RuntimeLibrary>")
        self.assertFails("Directory.Build.props (Release): RuntimeLibrary MultiThreaded, expected MultiThreadedDLL")

    def test_static_crt_with_dynamic_triplet(self) -> None:
        self.edit("Directory.Build.props", r"x64-windows-static</VcpkgTriplet>", "x64-windows</VcpkgTriplet>")
        self.assertFails("Directory.Build.props (Debug, WireStaticCrt=true): vcpkg triplet x64-windows does not match")

    def test_preset_crt_disagrees_with_triplet(self) -> None:
        self.edit("CMakePresets.json", r'"MultiThreaded\$<\$<CONFIG:Debug>:Debug>DLL"', '"MultiThreaded"')
        self.assertFails("CMakePresets.json: windows-msvc: CMAKE_MSVC_RUNTIME_LIBRARY MultiThreaded does not match triplet x64-windows")

    def test_preset_without_runtime(self) -> None:
        self.edit("CMakePresets.json", r',\s*"CMAKE_MSVC_RUNTIME_LIBRARY": "MultiThreaded\$<\$<CONFIG:Debug>:Debug>"', "")
        self.assertFails("CMakePresets.json: windows-msvc-static sets VCPKG_TARGET_TRIPLET x64-windows-static but not")

    # ---- what the programs link from vcpkg ------------------------------------------------------

    def test_tests_rely_on_auto_link_again(self) -> None:
        """Issue 24: auto-link on for the tests links gmock.lib before gtest.lib; with the DLL
        triplet the tests register in gmock.dll's GoogleTest and gtest_main runs none."""
        self.edit("Directory.Build.props", r"[ \t]*<VcpkgAutoLink>false</VcpkgAutoLink>\n", "")
        self.assertFails("tests/tests.vcxproj (Debug): relies on vcpkg's auto-link for GoogleTest",
                         "tests/tests.vcxproj (Release, WireStaticCrt=true): relies on vcpkg's auto-link for GoogleTest",
                         "server/server.vcxproj (Release): relies on vcpkg's auto-link for CLI11.lib")

    def test_tests_turn_auto_link_back_on(self) -> None:
        self.edit("tests/tests.vcxproj", r'(<PropertyGroup Label="UserMacros" />)',
                  r"\1<PropertyGroup><VcpkgAutoLink>true</VcpkgAutoLink></PropertyGroup>")
        self.assertFails("tests/tests.vcxproj (Release): relies on vcpkg's auto-link for GoogleTest")

    def test_tests_link_only_gtest_main(self) -> None:
        """The mistake of issue 24 with auto-link off: gtest.lib no longer named."""
        self.edit("tests/tests.vcxproj", r"<AdditionalDependencies>gtest\.lib;", "<AdditionalDependencies>")
        self.assertFails("tests/tests.vcxproj (Debug): includes <gtest/...> but does not link gtest.lib")

    def test_tests_lose_gtest_main(self) -> None:
        self.edit("tests/tests.vcxproj", r"gtest_main\.lib;", "")
        self.assertFails("tests/tests.vcxproj (Release): defines no main() and does not link gtest_main.lib")

    def test_tests_link_gmock_they_do_not_use(self) -> None:
        self.edit("tests/tests.vcxproj", r"<AdditionalDependencies>gtest\.lib;", "<AdditionalDependencies>gmock.lib;gtest.lib;")
        self.assertFails("tests/tests.vcxproj (Debug): links gmock.lib, which no source includes")

    def test_gtest_dll_without_shared_library_definition(self) -> None:
        self.edit("tests/tests.vcxproj", r"GTEST_LINKED_AS_SHARED_LIBRARY=1;", "")
        self.assertFails("tests/tests.vcxproj (Debug): GoogleTest is gtest.dll with the triplet x64-windows: needs")

    def test_gtest_shared_definition_for_every_triplet(self) -> None:
        self.edit("tests/tests.vcxproj", r"""<ItemDefinitionGroup Condition="'\$\(VcpkgTriplet\)' == 'x64-windows'">""",
                  "<ItemDefinitionGroup>")
        self.assertFails("tests/tests.vcxproj (Debug, WireStaticCrt=true): defines GTEST_LINKED_AS_SHARED_LIBRARY=1 "
                         "with the static triplet")

    def test_benchmark_static_define_for_the_dll_triplet(self) -> None:
        """Issue 24: BENCHMARK_STATIC_DEFINE unconditional, as it was."""
        self.edit("benchmarks/benchmarks.vcxproj", r"<PreprocessorDefinitions>ASIO_STANDALONE;",
                  "<PreprocessorDefinitions>BENCHMARK_STATIC_DEFINE;ASIO_STANDALONE;")
        self.assertFails("benchmarks/benchmarks.vcxproj (Release): defines BENCHMARK_STATIC_DEFINE with the DLL triplet x64-windows")
        self.assertFalse(any("WireStaticCrt=true): defines BENCHMARK_STATIC_DEFINE" in p for p in self.problems()))

    def test_benchmark_static_define_missing_for_the_static_triplet(self) -> None:
        self.edit("benchmarks/benchmarks.vcxproj", r"BENCHMARK_STATIC_DEFINE;", "")
        self.assertFails("benchmarks/benchmarks.vcxproj (Release, WireStaticCrt=true): includes <benchmark/...> "
                         "without BENCHMARK_STATIC_DEFINE")

    def test_benchmarks_do_not_name_benchmark_lib(self) -> None:
        self.edit("benchmarks/benchmarks.vcxproj", r"benchmark\.lib;", "")
        self.assertFails("benchmarks/benchmarks.vcxproj (Debug): includes <benchmark/...> but does not link benchmark.lib")

    def test_client_does_not_name_cli11(self) -> None:
        self.edit("client/client.vcxproj", r"CLI11\.lib;", "")
        self.assertFails("client/client.vcxproj (Release): includes <CLI/...> but does not link CLI11.lib")

    def test_sample_inherits_no_repository_settings(self) -> None:
        """docs/sample stands for a project outside the repository: its own props stop the search,
        so the repository's switch-off of auto-link does not reach it (and it needs none)."""
        props, _ = check_project_files.evaluate(self.root, {"Configuration": "Debug", "Platform": "x64"},
                                                "docs/sample/sample.vcxproj")
        self.assertNotIn("VcpkgAutoLink", props)
        self.assertNotIn("WireWindowsDefinitions", props)
        props, _ = check_project_files.evaluate(self.root, {"Configuration": "Debug", "Platform": "x64"},
                                                "tests/tests.vcxproj")
        self.assertEqual(props["VcpkgAutoLink"], "false")

    def test_sample_inherits_the_repository_props_again(self) -> None:
        (self.root / "docs/sample/Directory.Build.props").unlink()
        self.assertFails("docs/sample/sample.vcxproj: inherits the repository's Directory.Build.props")

    def test_sample_props_import_the_repository_props(self) -> None:
        self.edit("docs/sample/Directory.Build.props", r"(<Project[^>]*>)",
                  r"""\1<Import Project="$([MSBuild]::GetPathOfFileAbove('Directory.Build.props', '$(MSBuildThisFileDirectory)../'))" />""")
        self.assertFails("docs/sample/Directory.Build.props: imports another file")

    def test_sample_departs_from_the_document(self) -> None:
        self.edit("docs/sample/sample.vcxproj", r"<LanguageStandard>stdcpp20</LanguageStandard>", "")
        self.edit("docs/sample/sample.vcxproj", r"\.\.\\\.\.\\vcpkg_installed\\x64-windows-static\\include", "")
        self.assertFails("docs/sample/sample.vcxproj (Debug): LanguageStandard (none), the document's step 5 says stdcpp20",
                         "docs/sample/sample.vcxproj (Release, WireStaticCrt=true): does not include "
                         "..\\..\\vcpkg_installed\\x64-windows-static\\include")

    # ---- wire::tls: a library project like the engine, and the projects that use it ----------------

    def test_updater_maintains_tls(self) -> None:
        self.edit("tls/tls.vcxproj", r'[ \t]*<ClCompile Include="src\\session\.cpp" />\n', "")
        self.assertFails("tls/tls.vcxproj: does not list tls/src/session.cpp",
                         "tls/tls.vcxproj.filters: places tls/src/session.cpp, which the .vcxproj does not list")
        self.assertEqual(self.update(), 0)
        self.assertEqual(self.problems(), [])
        self.assertIn("<Filter>Public Headers</Filter>",
                      re.search(r'<ClInclude Include="include\\wire\\tls\.h">.*?</ClInclude>',
                                (self.root / "tls/tls.vcxproj.filters").read_text(), re.S).group(0))

    def test_solution_misses_tls(self) -> None:
        self.edit("engine.sln", r'Project\("[^"]*"\) = "tls".*?EndProject\n', "")
        self.assertFails("engine.sln: does not include tls/tls.vcxproj")

    def test_wire_tls_target_misses_a_file(self) -> None:
        self.write_cmake(drop="tls/src/session.h")
        self.assertFails("CMake: tls/src/session.h is in no target of tls/ (wire_tls)")

    def test_no_wire_tls_target(self) -> None:
        self.write_cmake()
        data = json.loads(self.cmake_json.read_text())
        data["targets"] = [t for t in data["targets"] if t["name"] != "wire_tls"]
        self.cmake_json.write_text(json.dumps(data))
        self.assertFails("CMake: no target wire_tls for tls/")

    def test_server_includes_tls_without_referencing_it(self) -> None:
        self.edit("server/server.vcxproj", r'[ \t]*<ProjectReference Include="\.\.\\tls\\tls\.vcxproj">.*?</ProjectReference>\n', "")
        self.assertFails("server/server.vcxproj: includes <wire/tls.h> but has no ProjectReference to tls/tls.vcxproj")

    def test_tls_without_the_engine(self) -> None:
        self.edit("tls/tls.vcxproj", r'[ \t]*<ProjectReference Include="\.\.\\engine\\engine\.vcxproj">.*?</ProjectReference>\n', "")
        self.assertFails("tls/tls.vcxproj: includes <wire/api.h> but has no ProjectReference to engine/engine.vcxproj")

    def test_props_lose_the_tls_include_folder(self) -> None:
        self.edit("Directory.Build.props", r";\$\(MSBuildThisFileDirectory\)tls\\include", "")
        self.assertFails("server/server.vcxproj (Debug): includes <wire/tls.h> but tls/include is not on its include path",
                         "tls/tls.vcxproj (Release, WireStaticCrt=true): includes <wire/tls.h> but tls/include")

    def test_engine_includes_tls(self) -> None:
        """The engine sees tls/include through the shared props; only the check keeps it below wire::tls."""
        (self.root / "engine/src/core/queue.cpp").write_text("#include <wire/tls.h>\n")
        self.assertFails("engine/engine.vcxproj: includes <wire/tls.h> but has no ProjectReference to tls/tls.vcxproj")

    def test_public_header_in_two_libraries(self) -> None:
        (self.root / "tls/include/wire/api.h").write_text("// fake\n")
        self.assertEqual(self.update(), 0)
        self.assertFails("<wire/api.h> is in engine/include and tls/include")

    def test_cli_reports_problems_with_exit_1(self) -> None:
        (self.root / "server/extra.cpp").write_text("// fake\n")
        run = subprocess.run([sys.executable, "-B", str(TOOLS / "check_project_files.py"), "--root", str(self.root),
                              "--cmake-sources", str(self.cmake_json)], capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertIn("server/server.vcxproj: does not list server/extra.cpp", run.stdout)


if __name__ == "__main__":
    unittest.main()
