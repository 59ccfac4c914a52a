"""The CLI as a newcomer meets it: help and an example for every command and option,
--quiet everywhere, old option spellings kept as hidden aliases, text names its font,
batch refuses a folder it did not make, install hints that fit the installation."""

from __future__ import annotations

import argparse

import pytest
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
