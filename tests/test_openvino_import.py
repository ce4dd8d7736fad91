"""import_openvino: the package without its model converter, and a fallback for one that needs the converter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, *path: Path) -> list:
    env_path = ":".join(str(p) for p in (*path, ROOT))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_openvino_imports_without_its_converter_which_still_imports_afterwards():
    found = _python(
        """
        import json, sys
        from index.embed_openvino import import_openvino
        import_openvino()
        import openvino
        skipped = "openvino.tools.ovc" not in sys.modules and openvino.Core is not None
        from openvino.tools.ovc import convert_model
        print(json.dumps([skipped, callable(convert_model)]))
        """
    )
    assert found == [True, True]


def test_an_openvino_that_needs_its_converter_is_imported_whole(tmp_path):
    package = tmp_path / "openvino"
    (package / "tools" / "ovc").mkdir(parents=True)
    (package / "__init__.py").write_text("from openvino.tools.ovc import convert_model\nCore = object\n")
    (package / "tools" / "__init__.py").write_text("")
    (package / "tools" / "ovc" / "__init__.py").write_text("def convert_model():\n    return 'converted'\n")
    found = _python(
        """
        import json, sys
        from index.embed_openvino import import_openvino
        import_openvino()
        import openvino
        print(json.dumps([openvino.__file__, openvino.convert_model(), "openvino.tools.ovc" in sys.modules]))
        """,
        tmp_path,
    )
    assert found == [str(package / "__init__.py"), "converted", True]
