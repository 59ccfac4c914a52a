"""Issue 16's CLI table: each hostile input a one-line error (exit 2) or the right output."""

import os
import signal

import numpy as np
import pytest
from encoders import two_boxes
from PIL import Image

import clipvg
from clipvg import cli
from clipvg.config import EditSettings, load_yaml
from clipvg.errors import ClipvgError, short
from clipvg.io import to_8bit


def one_line_error(capsys, argv, *words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [x for x in err if not x.startswith("warning:")]
    assert len(err) == 1 and err[0].startswith("error: "), err
    for w in words:
        assert w in err[0], err[0]
    assert len(err[0]) < 400
    return err[0]


@pytest.fixture
def files(tmp_path):
    svg = tmp_path / "in.svg"
    clipvg.save_svg(two_boxes(), svg)
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path, svg


@pytest.mark.parametrize(
    "where", ["input", "prompt_image", "output", "resume", "fifo_input", "fifo_font"]
)
def test_symlink_loops_and_fifos_are_named(files, capsys, where):
    d, svg = files
    loop, fifo, out = str(d / "loop1"), str(d / "fifo"), str(d / "o")
    argv = {
        "input": ["edit", loop, "--prompt", "x", "-o", out],
        "prompt_image": ["edit", str(svg), "--prompt-image", loop, "-o", out],
        "output": ["edit", str(svg), "--prompt", "x", "-o", loop],
        "resume": ["edit", "--resume", loop],
        "fifo_input": ["edit", fifo, "--prompt", "x", "-o", out],
        "fifo_font": ["text", "Hi", "--font", fifo, "-o", str(d / "t.svg")],
    }[where]
    word = "is a FIFO, not a file" if where.startswith("fifo") else "is a symlink loop"
    one_line_error(capsys, argv, word)
    assert not (d / "o").exists()


@pytest.mark.parametrize("target", ["fifo", "/dev/full"])
def test_no_output_over_a_non_regular_file(files, capsys, target):
    d, svg = files
    path = str(d / "fifo") if target == "fifo" else target
    one_line_error(capsys, ["render", str(svg), "-o", path, "--overwrite"], "not a regular file")
    assert (d / "fifo").is_fifo() and os.path.exists("/dev/full")


def bomb(levels: int) -> str:
    """A ``seed`` whose value nests ``levels`` aliases, 9 uses each (9 ** levels values)."""
    parts = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "seed: [" + ", ".join(parts) + "]\n"


def test_yaml_alias_bombs_are_refused_quickly(files, capsys):
    d, svg = files
    with pytest.raises(ClipvgError, match="expands to over"):
        load_yaml(bomb(9))
    (d / "bomb.yaml").write_text(bomb(9))
    argv = ["edit", str(svg), "--prompt", "x", "--config", str(d / "bomb.yaml"), "-o", str(d / "o")]
    one_line_error(capsys, argv, "expands to over")
    jobs = d / "jobs.yaml"
    jobs.write_text(bomb(9).replace("seed:", "jobs:\n- {input: in.svg, prompt: x}\nx:"))
    one_line_error(capsys, ["batch", str(jobs), "-o", str(d / "b")], "expands to over")
    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # aliases still work


def test_a_small_bomb_in_a_value_gives_a_short_message(files, capsys):
    d, svg = files
    (d / "c.yaml").write_text(bomb(3))  # ~15,000 values: read, then refused as a seed
    argv = ["edit", str(svg), "--prompt", "x", "--config", str(d / "c.yaml"), "-o", str(d / "o")]
    assert "seed must be an integer" in one_line_error(capsys, argv).replace("--seed", "seed")
    assert len(short("x" * 10**6)) <= 80 and len(short([[[1] * 100] * 100] * 100)) <= 80


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--shape-lr", "nan"], "finite"),
        (["--color-lr", "inf"], "finite"),
        (["--feather", "inf", "--preserve-background", "1"], "finite"),
        (["--feather", "1e7", "--preserve-background", "1"], "at most"),
        (["--crop-ratio", "nan"], "finite"),
    ],
)
def test_numbers_are_finite_and_bounded_before_any_work(files, capsys, flags, words):
    d, svg = files
    one_line_error(capsys, ["edit", str(svg), "--prompt", "x", *flags, "-o", str(d / "o")], words)
    assert not (d / "o").exists()
    with pytest.raises(ClipvgError):
        EditSettings(prompt="x", shape_lr=float("nan"))


@pytest.mark.parametrize("margin", ["inf", "nan", "-1"])
def test_evaluate_margin_must_be_finite(files, capsys, margin):
    d, svg = files
    argv = ["evaluate", str(svg), "--source", str(svg), "--prompt", "x", "--margin", margin]
    one_line_error(capsys, argv, "--margin")


@pytest.mark.parametrize(
    "args, words",
    [
        (["Hi", "--margin", "inf"], "finite"),
        (["Hi", "--size", "1e9"], "render accepts"),
        (["W" * 100_000], "render accepts"),
    ],
)
def test_text_refuses_what_render_would_refuse(files, capsys, args, words):
    d, _ = files
    one_line_error(capsys, ["text", *args, "-o", str(d / "t.svg")], words)
    assert not (d / "t.svg").exists()


@pytest.mark.parametrize("body", ["", "<defs><path d='M0 0 L9 9 Z'/></defs>"])
def test_an_svg_with_nothing_to_edit_is_refused_up_front(tmp_path, capsys, body):
    svg = tmp_path / "e.svg"
    svg.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">{body}</svg>')
    one_line_error(
        capsys, ["edit", str(svg), "--prompt", "x", "-o", str(tmp_path / "o")], "nothing to edit"
    )
    assert not (tmp_path / "o").exists()


def test_16_bit_and_float_pictures_keep_their_range(tmp_path):
    from clipvg.vectorize.image_io import load_image

    a = np.zeros((8, 8), np.uint16)
    a[:, 4:] = 60000
    Image.fromarray(a).save(tmp_path / "g.png")
    f = np.zeros((8, 8), np.float32)
    f[:, 4:] = 0.5
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    for name, want in (("g.png", 60000 / 257 / 255), ("f.tif", round(0.5 * 255) / 255)):
        rgb = np.asarray(load_image(tmp_path / name).rgb)
        assert rgb[0, 0, 0] == 0 and abs(rgb[0, 7, 0] - want) < 1 / 255, name
    wide = Image.fromarray(np.array([[-5.0, 5.0]], np.float32), "F")
    assert list(np.asarray(to_8bit(wide))[0]) == [0, 255]


def test_signal_names_are_spelled():
    from clipvg.signals import signal_name

    assert signal_name(signal.SIGTERM) == "SIGTERM"


@pytest.mark.parametrize(
    "statements",
    ['@import url("x.css");', '@charset "utf-8";', '@charset "utf-8";\n  @import "a.css";'],
)
def test_css_at_statements_keep_the_next_rule(statements):
    """An at-statement before a rule is skipped; the rule after it still applies."""
    from clipvg.svg import parse_svg_string

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        f"<style>{statements} path {{fill: #00ff00}}</style>"
        '<path d="M0 0H10V10H0Z"/></svg>'
    )
    assert parse_svg_string(svg).colors[0, :3].tolist() == [0.0, 1.0, 0.0]
