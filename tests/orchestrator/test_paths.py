"""User strings never leave the folders Rungs owns: ``slug`` and ``safe_child``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.paths import SLUG_MAX, UnsafePath, safe_child, slug


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dprnn-lr_wd.v2", "dprnn-lr_wd.v2"),  # a plain name is kept as it is
        ("../../../../tmp/x", "tmp-x"),
        ("/etc/passwd", "etc-passwd"),
        ("..", "sweep"),
        ("a\x00b\nc", "a-b-c"),
        ("\u202eexe.yaml", "exe.yaml"),
        ("", "sweep"),
    ],
)
def test_slug_is_one_safe_component(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_slug_is_short() -> None:
    assert len(slug("x" * 5000)) == SLUG_MAX


@pytest.mark.parametrize("relative", ["ray/stage1", "a/../b", ".", "new/not/yet"])
def test_safe_child_inside(tmp_path: Path, relative: str) -> None:
    child = safe_child(tmp_path, relative)
    assert child == (tmp_path / relative).resolve()


@pytest.mark.parametrize("relative", ["..", "../x", "a/../../x", "/etc", "a\x00b"])
def test_safe_child_refuses_escapes(tmp_path: Path, relative: str) -> None:
    with pytest.raises(UnsafePath):
        safe_child(tmp_path / "base", relative)


def test_safe_child_refuses_a_symlink_that_leads_out(tmp_path: Path) -> None:
    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    os.symlink(outside, base / "link")
    with pytest.raises(UnsafePath, match="leads outside"):
        safe_child(base, "link/ray")
