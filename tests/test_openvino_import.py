"""import_openvino: the package without its model converter, and a fallback for one that needs the converter."""

from __future__ import annotations

from tests.fresh import fresh_json


def test_openvino_imports_without_its_converter_which_still_imports_afterwards():
    found = fresh_json(
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
    found = fresh_json(
        """
        import json, sys
        from index.embed_openvino import import_openvino
        import_openvino()
        import openvino
        print(json.dumps([openvino.__file__, openvino.convert_model(), "openvino.tools.ovc" in sys.modules]))
        """,
        path=(tmp_path,),
    )
    assert found == [str(package / "__init__.py"), "converted", True]
