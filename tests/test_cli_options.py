"""The CLI as a newcomer meets it: help and an example for every command and option,
--quiet everywhere, old option spellings kept as hidden aliases, text names its font,
batch refuses a folder it did not make, install hints that fit the installation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from encoders import two_boxes

import clipvg
from clipvg import cli
from clipvg.errors import ClipvgError
from clipvg.text import find_font


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = sorted(subcommands())


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help_and_every_command_an_example(name):
    p = subcommands()[name]
    assert p.epilog and p.epilog.startswith("examples:\n  clipvg " + name), name
    missing = [
        a.option_strings or a.dest
        for a in p._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert not missing, f"{name}: options without help: {missing}"
    text = p.format_help()
    assert "examples:" in text and "--region " not in text  # the old spelling stays hidden


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_takes_quiet(name):
    p = subcommands()[name]
    assert any("--quiet" in a.option_strings for a in p._actions), name


def test_old_spellings_are_hidden_aliases():
    parse = cli.build_parser().parse_args
    text_old = parse(["text", "Hi", "-o", "x.svg", "--margin", "5"])
    text_new = parse(["text", "Hi", "-o", "x.svg", "--border", "5"])
    assert text_old.border == text_new.border == 5.0
    for cmd in (["vectorize", "in.png", "-o", "x.svg"], ["edit", "in.png", "-o", "out"]):
        old = parse([*cmd, "--region", "1", "2", "3", "4"])
        new = parse([*cmd, "--detail-region", "1", "2", "3", "4"])
        assert old.detail_region == new.detail_region == [[1.0, 2.0, 3.0, 4.0]]


def test_text_names_its_font_and_quiet_prints_nothing(tmp_path, capsys):
    try:
        font = find_font()
    except ClipvgError:
        pytest.skip("no font on this machine")
    assert cli.main(["text", "Hi", "-o", str(tmp_path / "a.svg"), "--size", "40"]) == 0
    out = capsys.readouterr().out
    assert f"font {font}" in out
    assert cli.main(["text", "Hi", "-o", str(tmp_path / "b.svg"), "--size", "40", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_render_quiet_prints_nothing(tmp_path, capsys):
    clipvg.save_svg(two_boxes(16), tmp_path / "a.svg")
    args = ["render", str(tmp_path / "a.svg"), "-o", str(tmp_path / "a.png")]
    assert cli.main([*args, "--quiet"]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "a.png").is_file()


def test_batch_refuses_a_non_empty_folder_it_did_not_make(tmp_path, capsys):
    pytest.importorskip("ray")
    clipvg.save_svg(two_boxes(16), tmp_path / "a.svg")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("input,prompt\na.svg,red\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert cli.main(["batch", str(jobs), "-o", str(out), "--iters", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not empty" in err and "summary.csv" in err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_install_hint_fits_a_source_checkout():
    # the tests run from the checkout: pyproject.toml sits beside cli.py
    assert cli.install_hint("web") == "pip install -e '.[web]' in the clipvg checkout"


def test_install_hints_fit_a_folder_install_and_an_index_install():
    folder = {"url": "file:///home/me/my%20clipvg", "dir_info": {}}
    assert cli.hint_for("web", False, folder) == "pip install '/home/me/my clipvg[web]'"
    wheel = {"url": "file:///tmp/clipvg-0.1.0-py3-none-any.whl", "archive_info": {}}
    assert cli.hint_for("cluster", False, wheel) == "pip install 'clipvg[cluster]'"
    assert cli.hint_for("web", False, {}) == "pip install 'clipvg[web]'"
    assert cli.hint_for("web", True, folder).startswith("pip install -e '.[web]'")


# ---- --freeze: the web page's locked layers, on the command line ----------------------
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LABELLED = """<svg xmlns="http://www.w3.org/2000/svg"
 xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="64" height="64">
  <g inkscape:label="Sky" inkscape:groupmode="layer">
    <rect id="blue" width="64" height="32" fill="#3050c0"/>
  </g>
  <g id="g7" inkscape:label="Ground">
    <rect id="soil" y="32" width="64" height="32" fill="#806040"/>
    <circle id="stone" cx="20" cy="48" r="8" fill="#909090"/>
  </g>
</svg>
"""


@pytest.fixture
def cli_tiny(monkeypatch, tiny):
    from clipvg import encoders

    monkeypatch.setattr(encoders, "load_clip", lambda *a, **k: tiny)
    return cli


def _edit(cli_tiny, src, out, *extra) -> int:
    args = ["edit", str(src), "--prompt", "a red picture", "-o", str(out), "--quiet"]
    return cli_tiny.main([*args, "--iters", "3", "--patches", "2", "--color-lr", "0.05", *extra])


def _by_id(scene) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    first = scene.path_point_index()
    return {p.id: (scene.points[first == i], scene.colors[i]) for i, p in enumerate(scene.info)}


def test_freeze_flag_parses_commas_and_repeats():
    parse = cli.build_parser().parse_args
    args = parse(["edit", "a.svg", "-o", "o", "--freeze", "house,sun", "--freeze", "round-2"])
    assert args.freeze == ["house", "sun", "round-2"]
    assert parse(["edit", "a.svg", "-o", "o"]).freeze is None
    with pytest.raises(SystemExit):
        parse(["edit", "a.svg", "-o", "o", "--freeze", "house,,sun"])


def test_frozen_paths_and_groups_come_out_bit_identical(cli_tiny, tmp_path):
    src = EXAMPLES / "landscape.svg"
    assert _edit(cli_tiny, src, tmp_path / "o", "--freeze", "house,sun") == 0
    before, after = _by_id(clipvg.load_svg(src)), _by_id(clipvg.load_svg(tmp_path / "o/final.svg"))
    frozen = {"wall", "roof", "door", "window", "window-2", "sun"}
    for pid in frozen:
        assert torch.equal(after[pid][0], before[pid][0]), pid
        assert torch.equal(after[pid][1], before[pid][1]), pid
    moved = [p for p in before if p not in frozen and not torch.equal(after[p][1], before[p][1])]
    assert len(moved) >= 4  # the edit did run: the other paths changed colour
    settings = json.loads((tmp_path / "o/run.json").read_text())["settings"]
    assert settings["freeze"] == ["house", "sun"]


def test_freeze_reaches_groups_by_inkscape_label(cli_tiny, tmp_path):
    src = tmp_path / "layers.svg"
    src.write_text(LABELLED)
    assert _edit(cli_tiny, src, tmp_path / "o", "--freeze", "Sky,g7", "--lock", "shape") == 2
    assert _edit(cli_tiny, src, tmp_path / "o", "--freeze", "Ground", "--lock", "shape") == 0
    before, after = _by_id(clipvg.load_svg(src)), _by_id(clipvg.load_svg(tmp_path / "o/final.svg"))
    for pid in ("soil", "stone"):
        assert torch.equal(after[pid][1], before[pid][1]), pid
    assert not torch.equal(after["blue"][1], before["blue"][1])


def test_freeze_of_a_name_that_is_not_there_is_one_line(cli_tiny, tmp_path, capsys):
    out = tmp_path / "o"
    assert _edit(cli_tiny, EXAMPLES / "landscape.svg", out, "--freeze", "hous") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --freeze: no path or group here is named 'hous'; its groups are house, land, "
        "sky, tree"
    )
    assert not out.exists() or not any(out.iterdir())
