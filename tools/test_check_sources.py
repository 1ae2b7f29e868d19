#!/usr/bin/env python3
"""Self-test of check_sources.py: a clean tree passes, and each rule catches its case (and not the
same words in comments or strings). Run: python3 tools/test_check_sources.py (CTest source_rules_selftest)."""
from __future__ import annotations

import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_sources  # noqa: E402

CLEAN = """#pragma once
// alignas(8) and #pragma GCC in a comment are fine; so is "alignas(" in a string.
#include <wire/win32.h>
#include <psapi.h>
const char* text = "#pragma GCC diagnostic";
struct s { std::uint32_t words[7]; };
"""


class CheckSourcesTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name)
        (self.root / "engine/include/wire").mkdir(parents=True)
        (self.root / "engine/include/wire/win32.h").write_text("#include <winsock2.h>\n#include <windows.h>\n")
        (self.root / "server").mkdir()
        (self.root / "server/clean.h").write_text(CLEAN)

    def problems(self, rel: str, text: str) -> list[str]:
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text)
        return check_sources.check(self.root)[0]

    def test_clean_tree_passes(self) -> None:
        self.assertEqual(check_sources.check(self.root), ([], 2))

    def test_alignas_member(self) -> None:
        found = self.problems("engine/include/wire/endpoint.h", "struct e {\n    alignas(8) char b[28];\n};\n")
        self.assertEqual(len(found), 1)
        self.assertIn("engine/include/wire/endpoint.h:2: alignas pads the class: MSVC C4324", found[0])

    def test_alignas_on_a_class(self) -> None:
        self.assertTrue(self.problems("tests/x_test.cpp", "struct alignas(64) counters { int n; };\n"))

    def test_pragma_gcc_and_clang(self) -> None:
        found = self.problems("benchmarks/b.cpp", "#pragma GCC diagnostic ignored \"-Wshadow\"\n#  pragma clang loop\n")
        self.assertEqual([p.split(": ")[0] for p in found], ["benchmarks/b.cpp:1", "benchmarks/b.cpp:2"])

    def test_tls_is_checked(self) -> None:
        """wire::tls (tls/) builds into programs with /W4 /WX like the engine; SSPI and CryptoAPI
        headers after <wire/win32.h> are no Windows-header finding."""
        self.assertEqual(self.problems("tls/src/sspi.h", "#include <wire/win32.h>\n#include <wincrypt.h>\n"
                                       "#include <security.h>\n#include <schannel.h>\n"), [])
        found = self.problems("tls/src/session.h", "struct alignas(16) record { char b[5]; };\n")
        self.assertEqual([p.split(": ")[0] for p in found], ["tls/src/session.h:1"])

    def test_gnu_attribute(self) -> None:
        self.assertTrue(self.problems("client/c.cpp", "static int f() __attribute__((unused));\n"))

    def test_windows_header_outside_the_one_header(self) -> None:
        found = self.problems("server/console_output.cpp", '#include "x.h"\n\n#include <Windows.h>\n')
        self.assertEqual(len(found), 1)
        self.assertIn("server/console_output.cpp:3: <Windows.h> directly", found[0])
        self.assertTrue(self.problems("tests/t.cpp", '#include "winsock2.h"\n'))

    def test_cli_exit_status(self) -> None:
        self.assertEqual(check_sources.main(["--root", str(self.root)]), 0)
        self.problems("docs/sample/s.cpp", "#pragma GCC poison x\n")
        self.assertEqual(check_sources.main(["--root", str(self.root)]), 1)


if __name__ == "__main__":
    unittest.main()
