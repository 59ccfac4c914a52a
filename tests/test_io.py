"""Tests of clipvg.io: whole-file writes, permissions, write errors, input protection."""

from __future__ import annotations

import errno
import os
import stat

import pytest
from PIL import Image

from clipvg.errors import ClipvgError, SettingError
from clipvg.io import (
    atomic_path,
    check_output,
    check_outside,
    raster_kind,
    require_file,
    write_text,
)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_get_the_umasks_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_text("x", tmp_path / "a.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask


def test_unwritable_location_is_one_line_error(tmp_path):
    (tmp_path / "file").write_text("x")
    # A folder under a regular file cannot exist (root ignores chmod, not this).
    with pytest.raises(ClipvgError, match="cannot create output folder"):
        write_text("x", tmp_path / "file" / "out.svg")


@pytest.mark.parametrize("where", ["write", "replace"])
def test_full_disk_is_one_line_error_and_leaves_nothing(tmp_path, monkeypatch, where):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if where == "replace":

        def replace(*a):
            raise full

        monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "out.json"
    with pytest.raises(ClipvgError) as exc:
        with atomic_path(target) as tmp:
            if where == "write":
                raise full
            tmp.write_text("{}")
    message = str(exc.value)
    assert str(target) in message and os.strerror(errno.ENOSPC) in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []  # no temporary file left, no output


def test_other_errors_inside_the_block_pass_through(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "x.txt"):
            raise ValueError("mine")
    assert list(tmp_path.iterdir()) == []


def test_check_output_never_allows_an_input(tmp_path):
    src = tmp_path / "s.svg"
    src.write_text("<svg/>")
    link = tmp_path / "link.svg"
    link.symlink_to(src)
    for overwrite in (False, True):
        with pytest.raises(ClipvgError, match="is the input"):
            check_output(link, [None, src], overwrite=overwrite)
    with pytest.raises(SettingError, match="set overwrite") as err:
        check_output(src, [tmp_path / "other.svg"])
    assert "set --overwrite" in err.value.spelled(lambda name: "--" + name)
    check_output(src, [tmp_path / "other.svg"], overwrite=True)
    check_output(tmp_path / "new.svg", [src])


def test_check_outside_refuses_inputs_in_the_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}")
    with pytest.raises(ClipvgError, match="inside the output folder"):
        check_outside(out, [None, tmp_path / "x.svg", out / "run.json"])
    check_outside(out, [tmp_path / "x.svg"])


def test_require_file_has_one_wording(tmp_path):
    with pytest.raises(ClipvgError, match=r"^font .*nope\.ttf not found; check the path$"):
        require_file(tmp_path / "nope.ttf", "font")
    with pytest.raises(ClipvgError, match="is a folder"):
        require_file(tmp_path)


@pytest.mark.parametrize("fmt, kind", [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WebP")])
def test_raster_kind_by_content(tmp_path, fmt, kind):
    path = tmp_path / "picture.svg"  # a misleading name: the bytes decide
    Image.new("RGB", (4, 4)).save(path, format=fmt)
    assert raster_kind(path) == kind


def test_raster_kind_of_svg_is_none(tmp_path):
    path = tmp_path / "a.png"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert raster_kind(path) is None
    (tmp_path / "b.jpg").write_bytes(b"\x00\x01garbage")
    assert raster_kind(tmp_path / "b.jpg") == "JPG"
