"""console.lazy: a stand-in imports its module on the first real use, and never for a probe."""

from __future__ import annotations

import sys

import pytest

from console.lazy import lazy


def test_a_probe_does_not_import_and_a_use_does(tmp_path, monkeypatch):
    (tmp_path / "lazy_probe_target.py").write_text("ANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe_target", raising=False)
    stand_in = lazy("lazy_probe_target")

    # What pytest asks of every global of a module it collects.
    assert getattr(stand_in, "__test__", False) is False
    with pytest.raises(AttributeError):
        stand_in.__deepcopy__  # noqa: B018
    assert "lazy_probe_target" not in sys.modules

    assert stand_in.ANSWER == 42
    assert "lazy_probe_target" in sys.modules and "(imported)" in repr(stand_in)
    assert stand_in.__name__ == "lazy_probe_target"  # once imported, dunders are the module's
