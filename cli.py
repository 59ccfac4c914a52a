"""Command-line entry point: ``python cli.py COMMAND ...`` or the ``clipvg`` script.

Thin on purpose: it parses arguments, calls the library and maps errors to exit
codes. Any :class:`clipvg.ClipvgError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from pathlib import Path

from clipvg.cli_options import (
    add_alias,
    add_clip_args,
    add_detail_region_arg,
    add_edit_options,
    add_overwrite_arg,
    add_quiet_arg,
    add_roi_args,
    command_parser,
    parse_rounds,
    roi_specs,
)


def _warning_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def cmd_render(args: argparse.Namespace) -> None:
    import clipvg
    from clipvg.errors import ClipvgError
    from clipvg.io import check_output, raster_kind, require_file, write_png

    require_file(args.input)
    kind = raster_kind(args.input)
    if kind is not None:
        svg = Path(args.input).with_suffix(".svg")
        raise ClipvgError(
            f"{args.input} is a raster image ({kind}), not an SVG; vectorize it first: "
            f"python cli.py vectorize {args.input} -o {svg}"
        )
    check_output(args.output, [args.input], args.overwrite)
    if args.width is not None and args.width < 1 or args.height is not None and args.height < 1:
        raise ClipvgError("--width and --height must be positive")
    scene = clipvg.load_svg(args.input)
    image = clipvg.render(
        scene,
        width=args.width,
        height=args.height,
        background=args.background,
        backend=args.backend,
    )
    write_png(image, args.output)
    if not args.quiet:
        print(f"wrote {args.output} ({image.shape[1]}x{image.shape[0]}, {scene.num_paths} paths)")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _add_edit_parser(sub) -> None:
    p = command_parser(
        sub,
        "edit",
        "edit an SVG (or a vectorized image) toward a text prompt with CLIP",
        """clipvg edit examples/landscape.svg --prompt "an autumn landscape" --lock shape -o out/autumn
clipvg edit examples/landscape.svg --prompt "a landscape" --roi 40 120 80 90 "a red brick house" --edit-only -o out/house
clipvg edit examples/landscape.svg --prompt "a snowy landscape" --freeze house,sun -o out/snowy
clipvg edit --resume out/autumn --iters 300""",
    )
    p.add_argument("input", nargs="?", help="input SVG or raster image (not needed with --resume)")
    p.add_argument("-o", "--output", help="output folder")
    p.add_argument(
        "--config", help="YAML or JSON settings file (a run.json works); flags override it"
    )
    p.add_argument("--resume", metavar="OUTDIR", help="continue the run in OUTDIR")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    add_quiet_arg(p)
    add_edit_options(p)
    p.set_defaults(func=cmd_edit)


def cmd_edit(args: argparse.Namespace) -> int:
    from clipvg.config import read_config
    from clipvg.errors import ClipvgError, Setting, SettingError
    from clipvg.io import check_outside, resolved
    from clipvg.launch import decide_resume, launch, settings_from_layers
    from clipvg.signals import signal_name, test_signal_hook

    outdir = args.resume or args.output
    if not outdir:
        raise SettingError(
            "give an output folder with ", Setting("output"), " OUTDIR (or --resume OUTDIR)"
        )
    check_outside(outdir, [args.config])
    if args.resume and args.output and resolved(args.output) != resolved(args.resume):
        raise ClipvgError("--resume writes into its own folder; drop -o or make it the same folder")
    if args.resume:
        if args.config:
            raise ClipvgError("--resume takes its settings from OUTDIR/run.json; drop --config")
        settings, resume = decide_resume(args.resume, resume=True, overrides=_edit_flags(args))
    else:
        file_values = read_config(args.config) if args.config else None
        layers = (file_values, _edit_flags(args))
        settings, resume = settings_from_layers(*layers, source=args.config or "config"), False
    stop = args.stop
    stop.polled = True  # a signal ends the run after its iteration, saved
    result = launch(
        settings,
        outdir,
        overwrite=args.overwrite,
        resume=resume,
        progress=not args.quiet,
        stop=stop,
        callback=test_signal_hook(),
    )
    folder = result.folder
    if result.status == "interrupted":
        why = f"stopped by {signal_name(stop.signum)}" if stop.signum else "interrupted"
        print(
            f"{why} at iteration {result.iteration}: wrote {folder.file('latest.svg')} and run.json; "
            f"continue with --resume {folder.path}",
            file=sys.stderr,
        )
        return stop.exit_code or 130
    done = _plural(result.iteration, "iteration")
    if result.final_loss is not None:
        done += f", loss {result.final_loss:.4f}"
    else:
        done += ": the input unchanged"
    print(f"wrote {folder.file('final.svg')} ({done})")
    best = _read_record(folder.file("run.json")).get("best")
    if best:
        print(
            f"best of {settings.candidates} candidates: seed {best['seed']} "
            f"(score {best['score']:.4f}); ranking in {folder.file('ranking.json')}"
        )
    return 0


def _read_record(path: Path) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


#: Settings whose command-line spelling is not ``--name-with-dashes``.
_FLAG_SPELLING = {
    "rois": "--roi / --roi-polygon / --roi-mask",
    "output": "-o",
    "vectorize": "the vectorizer options",
}
#: Settings that come from several flags (built below), not from one flag of their name.
_COMPOSITE = ("rois", "vectorize")


def flag_name(setting: str) -> str:
    """How the command line spells a setting (or run option) in messages: ``--edit-only``."""
    return _FLAG_SPELLING.get(setting) or "--" + setting.replace("_", "-")


def _edit_flags(args: argparse.Namespace) -> dict:
    """The edit settings given on the command line (None: not given), one per
    :class:`clipvg.config.EditSettings` field."""
    from dataclasses import fields

    from clipvg.config import EditSettings

    flags = {
        f.name: getattr(args, f.name, None)
        for f in fields(EditSettings)
        if f.name not in _COMPOSITE
    }
    flags["rois"] = roi_specs(args)
    regions = [tuple(r) for r in args.detail_region] if args.detail_region else None
    flags["vectorize"] = {
        "preset": args.preset,
        "max_paths": args.max_paths,
        "max_size": args.max_size,
        "rounds": args.rounds,
        "regions": regions,
    }
    return flags


def _add_batch_parser(sub) -> None:
    p = command_parser(
        sub,
        "batch",
        "run the edits of a CSV or YAML jobs file on Ray (this machine or a cluster)",
        """clipvg batch examples/recolor.yaml -o out/recolor-batch
clipvg batch jobs.csv -o out/jobs --workers 2 --iters 100""",
    )
    p.add_argument("jobs", help="CSV or YAML jobs file: one row per edit (see README, Batch)")
    p.add_argument("-o", "--output", required=True, help="output folder: one run folder per row")
    p.add_argument("--workers", type=int, help="worker processes (cores / torch threads)")
    p.add_argument("--ray-address", help="join this Ray cluster (default: start Ray here)")
    p.add_argument("--gpus-per-job", type=float, default=0.0, help="GPUs each row reserves (0)")
    p.add_argument("--retries", type=int, default=1, help="retries of a failed row (1)")
    p.add_argument(
        "--encoder-factory",
        metavar="MODULE:FUNCTION",
        help="build CLIP with this function (no arguments) instead of the rows' CLIP settings",
    )
    add_quiet_arg(p)
    add_edit_options(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from clipvg.batch import run_batch
    from clipvg.signals import signal_name

    args.stop.polled = True  # a signal stops the rows after their iteration, saved

    rows = run_batch(
        args.jobs,
        args.output,
        _edit_flags(args),
        workers=args.workers,
        ray_address=args.ray_address,
        gpus_per_job=args.gpus_per_job,
        retries=args.retries,
        encoder_factory=args.encoder_factory,
        progress=not args.quiet,
        stop=args.stop,
    )
    done = sum(r["status"] == "done" for r in rows)
    if args.stop.signum:
        print(
            f"stopped by {signal_name(args.stop.signum)}: {done} of {len(rows)} rows done, the "
            f"others saved; run the same command again to continue ({args.output}/summary.csv)",
            file=sys.stderr,
        )
        return args.stop.exit_code
    print(f"{done} of {len(rows)} rows done; see {args.output}/summary.csv")
    return 0 if done == len(rows) else 1


def _add_evaluate_parser(sub) -> None:
    p = command_parser(
        sub,
        "evaluate",
        "score an edited SVG: CLIP per ROI, directional CLIP, background PSNR/SSIM, size",
        """clipvg evaluate out/autumn/final.svg --source examples/landscape.svg --prompt "an autumn landscape"
clipvg evaluate out/house/final.svg --source examples/landscape.svg --roi 40 120 80 90 "a red brick house" --json -""",
    )
    p.add_argument("edited", help="the edited SVG")
    p.add_argument("--source", required=True, help="the SVG or image it was made from")
    add_roi_args(p)
    add_clip_args(p)
    p.add_argument("--margin", type=float, default=0.0, help="pixels left out around the ROIs (0)")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE (- for stdout)")
    add_overwrite_arg(p)
    add_quiet_arg(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> None:
    import json

    from clipvg.clip import load_clip, resolve_device
    from clipvg.config import EditSettings
    from clipvg.evaluate import check_margin, evaluate, format_table
    from clipvg.io import check_output, require_file, write_text

    require_file(args.edited, "edited SVG")  # before the slow CLIP loading
    require_file(args.source, "--source")
    check_margin(args.margin)
    rois = roi_specs(args) or []
    if args.json and args.json != "-":
        reads = [args.edited, args.source, args.prompt_image, args.clip_weights]
        reads += [r.get("image") or r.get("mask") for r in rois]
        check_output(args.json, reads, args.overwrite)
    defaults = EditSettings()
    device = resolve_device(args.device or defaults.device)
    encoder = load_clip(
        args.clip_model or defaults.clip_model,
        args.clip_pretrained or defaults.clip_pretrained,
        args.clip_weights,
        device,
        progress=not args.quiet,
    )
    report = evaluate(
        args.edited,
        args.source,
        encoder,
        prompt=args.prompt,
        prompt_image=args.prompt_image,
        rois=rois,
        source_prompt=args.source_prompt or defaults.source_prompt,
        margin=args.margin,
        device=device,
        progress=not args.quiet,
    )
    text = json.dumps(report, indent=1)
    if args.json == "-":
        print(format_table(report), file=sys.stderr)
        print(text)
        return
    if args.json:
        write_text(text + "\n", args.json)
    print(format_table(report))


def _add_text_parser(sub) -> None:
    p = command_parser(
        sub,
        "text",
        "turn a word into glyph outline paths (SVG) to edit",
        """clipvg text CLIPVG -o out/word.svg
clipvg text "Hello" --font /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf --size 120 -o out/hello.svg""",
    )
    p.add_argument("text", help="the text, one line")
    p.add_argument("-o", "--output", required=True, help="output SVG")
    p.add_argument("--font", help=".ttf/.otf file (default: a font found on this machine)")
    p.add_argument("--size", type=float, default=200.0, help="font size in pixels (200)")
    p.add_argument("--border", type=float, default=20.0, help="white border in pixels (20)")
    add_alias(p, "--margin", "--border", type=float)  # old spelling; evaluate's --margin differs
    p.add_argument("--no-kerning", action="store_true", help="ignore the font's kerning pairs")
    add_overwrite_arg(p)
    add_quiet_arg(p, "print nothing on success")
    p.set_defaults(func=cmd_text)


def cmd_text(args: argparse.Namespace) -> None:
    import clipvg
    from clipvg.io import check_output
    from clipvg.text import find_font, text_to_scene

    font = args.font or find_font()
    scene = text_to_scene(
        args.text, font, size=args.size, margin=args.border, kerning=not args.no_kerning
    )
    check_output(args.output, [font], args.overwrite)
    clipvg.save_svg(scene, args.output)
    if not args.quiet:
        print(
            f"wrote {args.output} ({scene.width:g}x{scene.height:g}, "
            f"{scene.num_paths} glyph paths, font {font})"
        )


def _add_vectorize_parser(sub) -> None:
    p = command_parser(
        sub,
        "vectorize",
        "turn a PNG, JPEG or WebP image into layered filled-curve SVG",
        """clipvg vectorize examples/cat.jpg -o out/cat.svg
clipvg vectorize examples/pair.jpg --preset fast --detail-region 0 0 256 256 -o out/pair.svg""",
    )
    p.add_argument("input", help="input raster image")
    p.add_argument("-o", "--output", required=True, help="output SVG")
    p.add_argument(
        "--preset",
        choices=["fast", "balanced", "detailed"],
        default="balanced",
        help="fast ~300 paths, balanced ~1000, detailed ~3000 (default balanced)",
    )
    p.add_argument(
        "--rounds", type=parse_rounds, help="regions per round, coarse to fine, e.g. 250,1000,2500"
    )
    p.add_argument("--max-paths", type=int, help="path budget of the whole stack")
    add_detail_region_arg(p)
    p.add_argument("--max-size", type=int, default=512, help="longer side to downscale to (512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the refinement (0)")
    p.add_argument(
        "--refine-iters",
        type=int,
        help="refinement budget in full-resolution steps (preset's; 0 turns it off)",
    )
    p.add_argument(
        "--robust",
        type=float,
        metavar="PX",
        help="control-point noise the refinement makes the result tolerate (detailed: 2; 0: fit closest)",
    )
    add_overwrite_arg(p)
    add_quiet_arg(p)
    p.set_defaults(func=cmd_vectorize)


def cmd_vectorize(args: argparse.Namespace) -> None:
    from clipvg.io import check_output, require_file
    from clipvg.svg import save_svg
    from clipvg.vectorize.pipeline import vectorize_image

    require_file(args.input, "input image")
    check_output(args.output, [args.input], args.overwrite)
    scene = vectorize_image(
        args.input,
        preset=args.preset,
        rounds=args.rounds,
        max_paths=args.max_paths,
        regions=[tuple(r) for r in args.detail_region or ()],
        seed=args.seed,
        max_size=args.max_size,
        refine=args.refine_iters,
        robust=args.robust,
        progress=not args.quiet,
    )
    save_svg(scene, args.output)
    groups = sorted({g for info in scene.info for g in info.groups})
    print(
        f"wrote {args.output} ({scene.width:g}x{scene.height:g}, {scene.num_paths} paths in {len(groups)} groups)"
    )


def _add_serve_parser(sub) -> None:
    p = command_parser(
        sub,
        "serve",
        "local web editor: draw regions, type prompts, watch the edit",
        """clipvg serve
clipvg serve --port 8123 --workdir out/web-runs""",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (8000)")
    p.add_argument("--workdir", default="clipvg-runs", help="folder of uploads and run folders")
    p.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload in MB (50)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable); by default only the "
        "bound address and localhost (refusing other names stops DNS rebinding)",
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="auto",
        help="where the edits run (auto)",
    )
    p.add_argument("--clip-model", help="open_clip architecture (ViT-B-32)")
    p.add_argument("--clip-pretrained", help="open_clip pretrained tag (openai), or none")
    p.add_argument("--clip-weights", help="local CLIP checkpoint (.safetensors or torch file)")
    add_quiet_arg(p, "print nothing but errors (not the address line)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from clipvg.errors import ClipvgError

    try:
        from clipvg.serve import serve
    except ImportError as exc:
        raise ClipvgError(f"the web editor needs {exc.name}: {install_hint('web')}") from None
    if args.max_upload_mb <= 0:
        raise ClipvgError("--max-upload-mb must be positive")
    stopped_by = serve(
        args.host,
        args.port,
        args.workdir,
        device=args.device,
        clip_model=args.clip_model,
        clip_pretrained=args.clip_pretrained,
        clip_weights=args.clip_weights,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        print_fn=(lambda line: None) if args.quiet else print,
        allow_hosts=tuple(args.allow_host),
    )
    return 128 + stopped_by if stopped_by else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipvg", description="Text-guided vector graphics editing."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = command_parser(
        sub,
        "render",
        "rasterize an SVG to PNG",
        """clipvg render examples/landscape.svg -o out/landscape.png
clipvg render out/autumn/final.svg --width 1024 --background none -o out/autumn.png""",
    )
    p.add_argument("input", help="input SVG")
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--width", type=int, default=None, help="output width in pixels")
    p.add_argument("--height", type=int, default=None, help="output height in pixels")
    p.add_argument("--background", default="white", help="white, none (transparent) or a color")
    p.add_argument(
        "--backend",
        choices=["torch", "diffvg"],
        default="torch",
        help="rasterizer: torch (built in) or diffvg (if installed) (torch)",
    )
    add_overwrite_arg(p)
    add_quiet_arg(p, "print nothing on success")
    p.set_defaults(func=cmd_render)

    # Each command adds its parser here, next to the others: vectorize, edit, text, evaluate.
    _add_vectorize_parser(sub)
    _add_edit_parser(sub)
    _add_text_parser(sub)
    _add_evaluate_parser(sub)
    _add_batch_parser(sub)
    _add_serve_parser(sub)
    return parser


def install_hint(extra: str) -> str:
    """How to install an optional part, as this copy was installed (see :func:`hint_for`)."""
    import json
    from importlib import metadata

    checkout = (Path(__file__).resolve().parent / "pyproject.toml").is_file()
    try:
        origin = json.loads(metadata.distribution("clipvg").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        origin = {}
    return hint_for(extra, checkout, origin)


def hint_for(extra: str, checkout: bool, origin: dict) -> str:
    """The pip command for ``extra``: in a source checkout (pyproject.toml beside cli.py),
    after ``pip install <folder>`` (``origin``, pip's ``direct_url.json``, names the
    folder), or for a package from an index."""
    from urllib.parse import unquote, urlparse

    if checkout:
        return f"pip install -e '.[{extra}]' in the clipvg checkout"
    url = urlparse(origin.get("url", ""))
    if url.scheme == "file" and "dir_info" in origin:
        return f"pip install '{unquote(url.path)}[{extra}]'"
    return f"pip install 'clipvg[{extra}]'"


#: Said when a dependency is missing: usually the project's .venv is not active.
VENV_HINT = (
    "run clipvg inside the project's .venv: `. .venv/bin/activate` first "
    "(or call .venv/bin/clipvg); `make demo` or `make test` creates it"
)


def main(argv: list[str] | None = None) -> int:
    try:
        from clipvg.errors import ClipvgError, SettingError, without_library_advice
    except ModuleNotFoundError as exc:
        print(f"error: Python package {exc.name!r} not found; {VENV_HINT}", file=sys.stderr)
        return 2

    warnings.showwarning = _warning_line
    from clipvg.signals import SignalStop, signal_name

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with SignalStop() as args.stop:  # SIGTERM as Ctrl-C; edit and batch poll it
            code = args.func(args)
    except ClipvgError as exc:
        text = exc.spelled(flag_name) if isinstance(exc, SettingError) else str(exc)
        print(f"error: {without_library_advice(text)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file operation the library did not word itself
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted ({signal_name(signum)})", file=sys.stderr)
        return 128 + signum
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
