"""Tests of the editing session (clipvg.edit) and the ``edit`` command, offline.

CLIP is replaced by a tiny random-init open_clip ViT, or by an analytic encoder pair
with a known answer (image -> mean color, color word -> that color).
"""

from __future__ import annotations

import json

import pytest
import torch
from encoders import COLORS, MeanColorEncoder, square, two_boxes  # noqa: F401
from tolerance import U32, U64, sum_error

import clipvg
from clipvg import edit as edit_mod
from clipvg.config import EditSettings
from clipvg.edit import EditSession, run_edit
from clipvg.losses import DIRECTION_FLOOR
from clipvg.scene import Scene


def settings(**kw) -> EditSettings:
    base = dict(prompt="green", iters=6, patches=4, save_every=0, device="cpu", seed=1)
    base.update(kw)
    return EditSettings(**base)


def session(scene: Scene, encoder, **kw) -> EditSession:
    return EditSession(scene, settings(**kw), encoder, device="cpu")


def box_mean(image: torch.Tensor, x: int, y: int, w: int, h: int) -> torch.Tensor:
    return image[y : y + h, x : x + w].reshape(-1, 3).mean(0)


# ---- analytic encoder: sign, ROI coordinates and reference features ---------------------
@pytest.mark.parametrize("source", ["pool", "whole", "paired"])
def test_rois_pull_their_own_box_toward_their_color(source):
    scene = two_boxes(64)
    before = clipvg.render(scene).detach()
    rois = [
        {"x": 0, "y": 8, "w": 32, "h": 40, "prompt": "red", "weight": 30, "patch_weight": 80},
        {"x": 32, "y": 8, "w": 32, "h": 40, "prompt": "blue", "weight": 30, "patch_weight": 80},
    ]
    s = session(
        scene,
        MeanColorEncoder(),
        rois=rois,
        roi_weight=0.0,
        patch_weight=0.0,
        iters=25,
        color_lr=0.02,
        lock=["shape"],
        source_features=source,
    )
    for _ in range(25):
        s.step()
    after = clipvg.render(s.scene).detach()
    left, right = (8, 16, 24, 24), (36, 16, 24, 24)

    def redness(img, box):
        m = box_mean(img, *box)
        return float(m[0] - (m[1] + m[2]) / 2)

    def blueness(img, box):
        m = box_mean(img, *box)
        return float(m[2] - (m[0] + m[1]) / 2)

    d_red_left = redness(after, left) - redness(before, left)
    d_red_right = redness(after, right) - redness(before, right)
    d_blue_right = blueness(after, right) - blueness(before, right)
    d_blue_left = blueness(after, left) - blueness(before, left)
    assert d_red_left > 0.05 and d_blue_right > 0.05
    assert d_red_left > d_red_right + 0.05
    assert d_blue_right > d_blue_left + 0.05


# ---- tiny random CLIP: loss falls, locks, determinism -----------------------------------
def test_loss_falls_on_a_fixed_scene(tiny):
    s = session(two_boxes(), tiny, iters=30, shape_lr=0.5, color_lr=0.05, patches=2)
    losses = [s.step().loss for _ in range(30)]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 1e-3


@pytest.mark.parametrize(
    "lock,frozen,free", [("color", "colors", "points"), ("shape", "points", "colors")]
)
def test_lock_keeps_parameters_bit_identical(tiny, lock, frozen, free):
    scene = two_boxes()
    start = {k: getattr(scene, k).detach().clone() for k in ("points", "colors")}
    s = session(scene, tiny, lock=[lock], iters=3, color_lr=0.05)
    assert not getattr(s.scene, frozen).requires_grad
    for _ in range(3):
        s.step()
    assert getattr(s.scene, frozen).grad is None
    assert torch.equal(getattr(s.scene, frozen).detach(), start[frozen])
    assert not torch.equal(getattr(s.scene, free).detach(), start[free])


def test_frozen_group_stays_bit_identical(tiny):
    """``freeze`` (the page's locked layers): a group's paths keep their values, others move."""
    from clipvg.scene import PathInfo

    scene = two_boxes()
    scene.info = [PathInfo("a", ("round-1",)), PathInfo("b", ("round-2",))]
    start = {k: getattr(scene, k).detach().clone() for k in ("points", "colors")}
    s = session(scene, tiny, freeze=["round-1"], iters=3, color_lr=0.05)
    for _ in range(3):
        s.step()
    first = s.scene.path_point_index() == 0
    assert torch.equal(s.scene.points.detach()[first], start["points"][first])
    assert torch.equal(s.scene.colors.detach()[0], start["colors"][0])
    assert not torch.equal(s.scene.colors.detach()[1], start["colors"][1])
    assert s.exact_paths.tolist() == [True, False]
    with pytest.raises(clipvg.ClipvgError, match="every path"):
        session(scene, tiny, freeze=["round-1", "b"])


def test_colors_stay_in_range(tiny):
    s = session(two_boxes(), tiny, iters=3, color_lr=5.0, lock=["shape"])
    for _ in range(3):
        s.step()
    c = s.scene.colors.detach()
    assert float(c.min()) >= 0 and float(c.max()) <= 1


def test_same_seed_same_result(tiny):
    runs = []
    for _ in range(2):
        s = session(two_boxes(), tiny, iters=3)
        runs.append([s.step().loss for _ in range(3)] + [s.scene.points.detach().clone()])
    assert runs[0][:3] == runs[1][:3] and torch.equal(runs[0][3], runs[1][3])


# ---- run_edit: output folder, resume, interrupt ------------------------------------------
@pytest.fixture
def svg_input(tmp_path):
    path = tmp_path / "in.svg"
    clipvg.save_svg(two_boxes(), path)
    return path


def test_outputs_reimport_and_record(tiny, svg_input, tmp_path):
    out = tmp_path / "out"
    st = settings(input=str(svg_input), iters=4, save_every=2)
    status, folder, sess = run_edit(st, out, encoder=tiny, progress=False)
    assert status == "finished"
    back = clipvg.load_svg(out / "final.svg")
    assert back.num_paths == 2
    assert torch.allclose(back.points, sess.scene.points.detach(), atol=1e-2)
    assert (out / "final.png").is_file() and (out / "snapshots" / "iter_0004.svg").is_file()
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "finished" and rec["iteration"] == 4 and rec["seed"] == 1
    assert len(rec["history"]) == 4 and len(rec["history"][0]["rois"]) == 1
    assert rec["settings"]["patches"] == 4 and "torch" in rec["versions"]
    # refuses a non-empty folder
    with pytest.raises(clipvg.ClipvgError, match="not empty"):
        run_edit(st, out, encoder=tiny, progress=False)


def test_resume_continues_iteration_count(tiny, svg_input, tmp_path):
    out = tmp_path / "out"
    st = settings(input=str(svg_input), iters=3)
    run_edit(st, out, encoder=tiny, progress=False)
    st2 = settings(input=str(svg_input), iters=5)
    status, _, sess = run_edit(st2, out, resume=True, encoder=tiny, progress=False)
    assert status == "finished" and sess.iteration == 5
    rec = json.loads((out / "run.json").read_text())
    assert [h["iter"] for h in rec["history"]] == [1, 2, 3, 4, 5]
    # resuming reproduces the uninterrupted run exactly (scene, Adam state and RNG restored)
    status, _, straight = run_edit(st2, tmp_path / "straight", encoder=tiny, progress=False)
    assert torch.equal(straight.scene.points.detach(), sess.scene.points.detach())


def test_interrupt_leaves_valid_svg(tiny, svg_input, tmp_path):
    out = tmp_path / "out"

    def stop_at_2(session, it, record):
        if it == 2:
            raise KeyboardInterrupt

    status, _, sess = run_edit(
        settings(input=str(svg_input), iters=10),
        out,
        encoder=tiny,
        callback=stop_at_2,
        progress=False,
    )
    assert status == "interrupted" and sess.iteration == 2
    assert clipvg.load_svg(out / "latest.svg").num_paths == 2
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["iteration"] == 2
    assert not (out / "final.svg").exists()


# ---- the edit command ----------------------------------------------------------------------
@pytest.fixture
def cli_tiny(monkeypatch, tiny):
    from clipvg import encoders

    monkeypatch.setattr(encoders, "load_clip", lambda *a, **k: tiny)
    from clipvg import cli

    return cli


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--roi", "50", "0", "30", "30", "red"], "outside"),
        (["--roi", "0", "0", "-4", "10", "red"], "positive"),
        (["--roi", "0", "0", "10", "10", ""], "empty prompt"),
        (["--prompt", " "], "empty"),
        (["--lock", "shape", "--lock", "color"], "nothing left"),
        (["--iters", "-1"], ">= 0"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli_tiny, svg_input, tmp_path, capsys, extra, message):
    args = [
        "edit",
        str(svg_input),
        "--prompt",
        "green",
        "-o",
        str(tmp_path / "o"),
        "--iters",
        "1",
        *extra,
    ]
    assert cli_tiny.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_cli_missing_input_and_mismatched_roi(cli_tiny, tmp_path, capsys, svg_input):
    assert (
        cli_tiny.main(
            ["edit", str(tmp_path / "nope.svg"), "--prompt", "x", "-o", str(tmp_path / "o")]
        )
        == 2
    )
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: --roi needs exactly 5 values
        cli_tiny.main(
            [
                "edit",
                str(svg_input),
                "--prompt",
                "x",
                "-o",
                str(tmp_path / "o"),
                "--roi",
                "1",
                "2",
                "3",
            ]
        )
    assert exc.value.code == 2


def test_cli_edit_config_and_run_json_as_config(cli_tiny, svg_input, tmp_path, capsys):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "prompt: green\niters: 2\npatches: 2\nsave_every: 0\nseed: 3\nrois:\n  - {x: 0, y: 0, w: 32, h: 32, prompt: red}\n"
    )
    out = tmp_path / "a"
    assert (
        cli_tiny.main(
            [
                "edit",
                str(svg_input),
                "--config",
                str(cfg),
                "-o",
                str(out),
                "--iters",
                "3",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    rec = json.loads((out / "run.json").read_text())
    assert rec["settings"]["iters"] == 3 and rec["settings"]["seed"] == 3 and len(rec["rois"]) == 2
    out2 = tmp_path / "b"
    assert (
        cli_tiny.main(
            [
                "edit",
                str(svg_input),
                "--config",
                str(out / "run.json"),
                "-o",
                str(out2),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    rec2 = json.loads((out2 / "run.json").read_text())
    assert rec2["settings"] == rec["settings"]
    assert [h["loss"] for h in rec2["history"]] == [h["loss"] for h in rec["history"]]
    assert svg_input.read_text().startswith("<")  # input untouched


class Float64Encoder:
    """A CLIP model run in float64 (its inputs cast up, gradients flowing back)."""

    def __init__(self, encoder):
        encoder.model.double()
        self.inner, self.image_size = encoder, encoder.image_size

    def encode_image(self, images):
        return self.inner.encode_image(images.double())

    def encode_text(self, texts):
        return self.inner.encode_text(texts)


def test_first_iteration_compares_identical_warps():
    """Iteration 1: the render equals the initial render, so with the same warps on both
    every image direction is zero up to rounding and every crop's loss is 1."""
    from clipvg.clip import tiny_clip

    rois = [{"x": 2, "y": 3, "w": 40, "h": 20, "prompt": "red", "weight": 5, "patch_weight": 7}]
    s = session(two_boxes(), Float64Encoder(tiny_clip()), rois=rois, patches=3)
    rec = s.step()
    # The current crops are encoded with gradient and the initial ones without, by
    # kernels that may round differently. In float64 the unit features then differ by
    # |d| <= N u64 with N = 2^12 rounding steps (well above the tiny ViT's reduction
    # lengths), and the loss 1 - d.dT / floor moves by at most |d| / floor per crop. The
    # per-patch weights w / n are float32: relative error u32 each. Different warps
    # would move a crop's loss by O(1).
    for got, weight in zip(rec.rois, [30 + 80, 5 + 7], strict=True):
        bound = weight * (U32 + 2**12 * U64 / DIRECTION_FLOOR) + sum_error(4, weight, U64)
        assert abs(got - weight) <= bound


def test_a_run_refused_during_setup_leaves_no_folder(tmp_path, capsys):
    from clipvg import cli

    src = tmp_path / "in.svg"
    src.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect x="4" y="4" width="20" height="20"/></svg>'
    )
    out = tmp_path / "out"
    # The prompt equals the source prompt: refused after the model is loaded.
    code = cli.main(
        [
            "edit",
            str(src),
            "--prompt",
            "photo",
            "--clip-pretrained",
            "none",
            "--iters",
            "1",
            "-o",
            str(out),
        ]
    )
    assert code == 2
    assert "same text features" in capsys.readouterr().err
    assert not out.exists()


# ---- never overwrite an input; the record before the result; Ctrl-C while saving ----------
def test_cli_overwrite_never_replaces_what_the_run_reads(cli_tiny, svg_input, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["edit", str(svg_input), "--prompt", "green", "--iters", "1", "--patches", "2"]
    assert cli_tiny.main([*base, "-o", str(out), "--quiet"]) == 0
    capsys.readouterr()
    record = (out / "run.json").read_bytes()
    final = (out / "final.png").read_bytes()
    for extra in (
        ["--config", str(out / "run.json")],
        ["--prompt-image", str(out / "final.png")],
        ["--roi-image", "0", "0", "8", "8", str(out / "final.png")],
    ):
        assert cli_tiny.main([*base, "-o", str(out), "--overwrite", "--quiet", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert "inside the output folder" in err and "\n" not in err
    assert (out / "run.json").read_bytes() == record and (out / "final.png").read_bytes() == final


def test_record_and_checkpoint_come_before_the_result(tiny, svg_input, tmp_path, monkeypatch):
    """A full disk while writing final.* leaves run.json and the checkpoint, not a
    result without its record; resuming writes the result."""
    out = tmp_path / "out"
    real = edit_mod.RunFolder.write_scene

    def full_disk(self, scene, name, *a, **k):
        if name == "final":
            raise clipvg.ClipvgError(f"cannot write {self.file('final.svg')}: No space left")
        return real(self, scene, name, *a, **k)

    monkeypatch.setattr(edit_mod.RunFolder, "write_scene", full_disk)
    with pytest.raises(clipvg.ClipvgError, match="No space"):
        run_edit(settings(input=str(svg_input), iters=2), out, encoder=tiny, progress=False)
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "saving" and rec["iteration"] == 2
    assert (out / "checkpoint.pt").is_file() and not (out / "final.svg").exists()
    monkeypatch.setattr(edit_mod.RunFolder, "write_scene", real)
    status, _, _ = run_edit(
        settings(input=str(svg_input), iters=2), out, resume=True, encoder=tiny, progress=False
    )
    assert status == "finished" and (out / "final.svg").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_ctrl_c_during_the_final_save_is_held(tiny, svg_input, tmp_path, monkeypatch, capsys):
    import os
    import signal

    out = tmp_path / "out"
    real = edit_mod.RunFolder.write_scene

    def ctrl_c(self, scene, name, *a, **k):
        if name == "final":
            os.kill(os.getpid(), signal.SIGINT)  # delivered while final.* are written
        return real(self, scene, name, *a, **k)

    monkeypatch.setattr(edit_mod.RunFolder, "write_scene", ctrl_c)
    status, _, _ = run_edit(
        settings(input=str(svg_input), iters=2), out, encoder=tiny, progress=False
    )
    assert status == "finished" and (out / "final.svg").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert "SIGINT: finishing writing" in capsys.readouterr().err


def test_interrupt_raised_inside_the_final_save_records_interrupted(
    cli_tiny, svg_input, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    real = edit_mod.RunFolder.write_scene

    def interrupt(self, scene, name, *a, **k):
        if name == "final":
            raise KeyboardInterrupt
        return real(self, scene, name, *a, **k)

    monkeypatch.setattr(edit_mod.RunFolder, "write_scene", interrupt)
    args = ["edit", str(svg_input), "--prompt", "green", "--iters", "2", "--patches", "2"]
    assert cli_tiny.main([*args, "-o", str(out), "--quiet"]) == 130
    assert f"--resume {out}" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(edit_mod.RunFolder, "write_scene", real)
    assert cli_tiny.main(["edit", "--resume", str(out), "--quiet"]) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


@pytest.mark.parametrize(
    "iters, words", [(0, "0 iterations: the input unchanged"), (1, "1 iteration, loss")]
)
def test_cli_summary_line(cli_tiny, svg_input, tmp_path, capsys, iters, words):
    args = ["edit", str(svg_input), "--prompt", "green", "--patches", "2", "--quiet"]
    assert cli_tiny.main([*args, "--iters", str(iters), "-o", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert words in out and "nan" not in out


# ---- --seed seeds everything, random CLIP weights included ---------------------------------
def test_cli_same_seed_same_losses_and_resume_continues_exactly(
    tiny_model_name, svg_input, tmp_path, capsys
):
    from clipvg import cli

    args = [
        "edit",
        str(svg_input),
        "--prompt",
        "green",
        "--patches",
        "2",
        "--seed",
        "5",
        "--clip-model",
        tiny_model_name,
        "--clip-pretrained",
        "none",
        "--device",
        "cpu",
        "--save-every",
        "0",
        "--quiet",
    ]

    def losses(folder):
        return [h["loss"] for h in json.loads((folder / "run.json").read_text())["history"]]

    for name in ("a", "b"):
        assert cli.main([*args, "--iters", "8", "-o", str(tmp_path / name)]) == 0
    assert cli.main([*args, "--iters", "4", "-o", str(tmp_path / "r")]) == 0
    assert cli.main(["edit", "--resume", str(tmp_path / "r"), "--iters", "8", "--quiet"]) == 0
    straight = losses(tmp_path / "a")
    assert len(straight) == 8 and len(set(straight)) > 1
    # Same process, same threads, same seed: every operation repeats bit for bit.
    assert losses(tmp_path / "b") == straight
    assert losses(tmp_path / "r") == straight
    assert (tmp_path / "r" / "final.svg").read_text() == (tmp_path / "a" / "final.svg").read_text()
    # another seed draws another network and other crops
    assert cli.main([*args, "--iters", "2", "--seed", "6", "-o", str(tmp_path / "c")]) == 0
    assert losses(tmp_path / "c") != straight[:2]


# ---- source features, chunked CLIP passes, precision ---------------------------------------
def test_pool_warps_keep_their_pairing_with_the_initial_render():
    """Each iteration's reference features are the initial render's under the very warps
    the iteration draws from the pool (the augmentation cancels out of dI)."""
    from clipvg.augment import apply_grid, warp_grid

    rois = [{"x": 2, "y": 3, "w": 40, "h": 20, "prompt": "red"}]
    s = session(two_boxes(), MeanColorEncoder(), rois=rois, patches=5, batch_size=7)
    hw = tuple(s.initial_image.shape[:2])
    assert [len(w.boxes) for w, _ in s._pool] == [edit_mod.POOL_FACTOR * 6] * 2
    for _ in range(3):
        warps, reference, counts = s._draw(hw)
        assert counts == [6, 6] and reference.shape == (12, 3)
        grid, inside = warp_grid(warps, s.encoder.image_size, hw)
        expect = s.encoder.encode_image(apply_grid(s.initial_image, grid, inside))
        # the same crops through the same float32 mean: equal up to summation order
        assert torch.allclose(reference, expect, rtol=0, atol=16 * 256 * 2**-24)


def test_whole_source_features_are_the_unaugmented_roi():
    from clipvg.metrics import roi_crops

    rois = [{"x": 32, "y": 8, "w": 32, "h": 40, "prompt": "blue"}]
    s = session(two_boxes(), MeanColorEncoder(), rois=rois, source_features="whole")
    boxes = [r.box for r in s.rois]
    expect = roi_crops(s.initial_image, boxes, 16).mean(dim=(2, 3))
    assert torch.equal(s._whole_features, expect)
    warps, reference, counts = s._draw(tuple(s.initial_image.shape[:2]))
    assert torch.equal(reference, expect.repeat_interleave(torch.tensor(counts), 0))


@pytest.mark.parametrize("source", ["pool", "paired"])
def test_iteration_does_not_depend_on_the_chunk_size(source):
    """The gradient reaching the render is the sum of every crop's, whatever the chunks.

    In float64 (render cast up, tiny CLIP in float64) chunking only reorders a sum of
    B = 8 per-crop terms and changes the batch the K <= 128-term dot products of the
    tiny ViT run in: relative error ~ (B + K) * 2^-53 ~ 2e-14 of the terms, times at
    most 1 / DIRECTION_FLOOR = 100 from the loss; 1e-9 of the largest gradient leaves
    a margin of 1000x over that bound and is still far below any real change.
    """
    from clipvg.clip import tiny_clip

    encoder = tiny_clip(seed=2)
    encoder.model.double()
    results = []
    for batch in (0, 1, 3):
        grads = []

        def render(scene, grads=grads):
            image = clipvg.render(scene).double()
            if image.requires_grad:  # not the initial render (no_grad)
                image.register_hook(grads.append)
            return image

        rois = [{"x": 2, "y": 3, "w": 40, "h": 20, "prompt": "red"}]
        s = EditSession(
            two_boxes(),
            settings(rois=rois, patches=3, batch_size=batch, source_features=source),
            encoder,
            render=render,
        )
        s.step()  # iteration 1: render == initial, the loss's gradient is -dT / floor
        rec = s.step()  # iteration 2: a real direction
        results.append((grads[-1], rec.rois))
    ref_grad, ref_rois = results[0]
    scale = float(ref_grad.abs().max())
    assert scale > 0
    for grad, rois in results[1:]:
        assert float((grad - ref_grad).abs().max()) <= 1e-9 * scale
        assert rois == pytest.approx(ref_rois, rel=1e-9)


def test_bf16_precision_runs_and_settings_are_checked(tiny):
    s = session(two_boxes(), tiny, precision="bf16", patches=2, batch_size=2)
    assert s.clip_dtype == torch.bfloat16
    rec = s.step()
    assert all(torch.isfinite(torch.tensor(rec.rois)))
    assert session(two_boxes(), tiny, precision="fp32").clip_dtype is None
    with pytest.raises(clipvg.ClipvgError, match="source_features"):
        settings(source_features="cached")
    with pytest.raises(clipvg.ClipvgError, match="precision"):
        settings(precision="fp16")
