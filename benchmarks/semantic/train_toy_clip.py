"""Train ``clipvg-toy``: a small open_clip model, contrastively, on procedural scenes.

The shipped weights come from two runs. Stage 1, the default recipe: single scenes of
the generator's mix, batches made of same-colour groups (``--group`` scenes each), so
that shape and position, not colour alone, must tell captions apart. Stage 2, from
stage 1's weights: ``--init W --steps 300 --directions 32 --binding 1 --lr 5e-4
--warmup 10`` (the contrastive loss on directions below; 8.3 + 15.8 min wall on this
2-core machine, log ``benchmarks/semantic/toy_training_stage2.log``; stage 1's shipped
weights are ``git show 69aedb6:clipvg/toy/clipvg-toy.safetensors``). ``--pairs N`` (an experiment,
not shipped; see README and ``benchmarks/semantic/pairs-2026-12-01.log``): N minimal
pairs (clipvg.toy.pairs), each scene with a partner that differs in one attribute (a
shape, an object's colour, the background's, or an object's colour swapped with the
background's), both captioned from one template and drawn into the same batch
(``--group`` pairs a colour group), a share (``--translucent``) with slightly
translucent objects. ``--sets N``: N contrast sets of four (clipvg.toy.pairs.contrast_set:
a scene, one object recoloured to a new term, the background changed to that term
instead, the object reshaped), all four captioned from one template naming the
background, so that the recolour an edit wants and the tinted background it drifts to
are told apart. ``--cell-share``, ``--morph-share``, ``--wobble-share``: training
variety (clipvg.toy.scenes.Variety). Two kinds of adversarial training (experiments):
``--adv-eps E`` trains on renders perturbed within an L-inf ball of E/255 (PGD,
``--adv-steps``); ``--edit-attacks N`` puts N triplets in every batch
(clipvg.toy.attacks): a scene, one object truly recoloured, and the scene as an edit
toward that recolour leaves it against the model as it is at that step, all three
captioned truthfully (both in clipvg.toy.training). ``--soft-colour T``: contrastive
targets softened by CIELAB distance (clipvg.toy.training.soft_targets). Fine-tunes of
the shipped weights with each: ``benchmarks/semantic/finetunes-2026-12-02.log``; none
is shipped. Two objectives on directions (clipvg.toy.training): ``--paths N``, the
editor's own directional loss from N scenes a batch toward a recolour or (``--path-shapes``)
a morph, a short way along the path; ``--directions N``, a contrastive loss that tells
apart N contrast sets' three changes (recolour, the background tinted instead, reshape)
by their text shifts, and with ``--binding W`` a hinge that keeps a background tint
off the recolour's text shift (log: ``benchmarks/semantic/directions-2026-12-02.log``).
``--views S``: a share S of the images, and of the direction sets' pairs (one warp for
both ends), seen as the editor's patch augmentation shows them (clipvg.toy.training.patch_views:
a random square crop, side down to ``--view-crop``, with a random perspective, white
outside the canvas). Deterministic from ``--seed`` (same data, same captions, same
batches, same initial weights; on one thread count the run repeats bit for bit). Writes
fp16 safetensors weights (open_clip's state-dict layout, so ``open_clip.load_checkpoint`` and hence
``clipvg.clip.load_clip`` read them) and a JSON summary with the training log, the
zero-shot accuracy on held-out scenes, and the smoothness checks.

    PYTHONPATH=. python benchmarks/semantic/train_toy_clip.py            # stage 1: 8-23 min, 1 core
    PYTHONPATH=. python benchmarks/semantic/train_toy_clip.py --init clipvg/toy/clipvg-toy.safetensors \
        --steps 300 --directions 32 --binding 1 --lr 5e-4 --warmup 10 \
        --summary benchmarks/semantic/toy_training_stage2.json         # stage 2: 16 min
    PYTHONPATH=. python benchmarks/semantic/train_toy_clip.py --pairs 8000 --steps 1000 --group 8 \
        --out /tmp/pairs.safetensors --summary /tmp/pairs.json          # 29 min CPU
    PYTHONPATH=. python benchmarks/semantic/train_toy_clip.py --sets 6000 --group 4 --steps 900 \
        --cell-share 0.5 --morph-share 0.3 --wobble-share 0.3 \
        --out /tmp/sets.safetensors --summary /tmp/sets.json            # 29 min CPU
    PYTHONPATH=. python benchmarks/semantic/train_toy_clip.py --init /tmp/sets.safetensors \
        --sets 3000 --scenes 8000 --mix 0.5 --group 4 --steps 250 --lr 5e-4 --warmup 10 \
        --cell-share 0.5 --morph-share 0.3 --wobble-share 0.3 --threads 2 \
        --out /tmp/mix.safetensors --summary /tmp/mix.json              # 11 min CPU more

Threads: ``--threads 1`` ran 3.5x faster than 2 when measured on 2 cores shared by
several busy processes (oversubscribed threads wait on each other); on an idle machine
use 2.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

sys.path.insert(0, str(ROOT))

from clipvg.clip import OpenClipEncoder, TextFeatureCache  # noqa: E402
from clipvg.toy import evaluate  # noqa: E402
from clipvg.toy.model import (  # noqa: E402
    CONFIG_FILE,
    TOY_MODEL,
    WEIGHTS_FILE,
    register,
    weights_file,
)
from clipvg.toy.pairs import contrast_set, partner, translucent  # noqa: E402
from clipvg.toy.scenes import Variety, caption, render_specs, sample_spec  # noqa: E402
from clipvg.toy.training import (  # noqa: E402
    MEAN,
    STD,
    direction_loss,
    direction_sets,
    edit_attack_triplets,
    patch_views,
    path_loss,
    path_points,
    pixel_attack,
    soft_clip_loss,
    soft_targets,
)


def render_blurred(
    specs: list, size: int, size_of: int, rng: np.random.Generator, max_blur: float
) -> torch.Tensor:
    """The specs' renders, (N, 3, size, size) uint8; each run of ``size_of`` scenes (a
    scene, a pair, a set) shares a slight blur (Gaussian sigma uniform in [0, max_blur]
    px; none for a third of them)."""
    images = (render_specs(specs, size).numpy() * 255).round().astype(np.uint8)
    for i in range(len(specs) // size_of):
        sigma = rng.uniform(0, max_blur) if rng.random() > 1 / 3 else 0.0
        if sigma > 0.05:
            for j in range(size_of * i, size_of * (i + 1)):
                images[j] = cv2.GaussianBlur(images[j], (0, 0), sigma)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def make_data(
    n: int, seed: int, size: int, max_blur: float, variety: Variety | None = None
) -> tuple[list, torch.Tensor]:
    """``n`` specs and their renders, (n, 3, size, size) uint8, each blurred slightly
    (:func:`render_blurred`)."""
    rng = np.random.default_rng(seed)
    specs = [sample_spec(rng, variety=variety) for _ in range(n)]
    return specs, render_blurred(specs, size, 1, rng, max_blur)


def make_group_data(
    count: int,
    size_of: int,
    seed: int,
    size: int,
    max_blur: float,
    translucent_share: float = 0.25,
    variety: Variety | None = None,
) -> tuple[list, list[str], torch.Tensor]:
    """``count`` groups of ``size_of`` scenes (2: a minimal pair, scene ``2i`` and its
    partner ``2i + 1``; 4: a contrast set, clipvg.toy.pairs.contrast_set): the specs,
    each group's kind, and the renders, (size_of * count, 3, size, size) uint8. A group
    shares its blur (:func:`render_blurred`) and, for ``translucent_share`` of the
    groups, its objects' alpha."""
    rng = np.random.default_rng(seed)
    specs, kinds = [], []
    while len(kinds) < count:
        spec = sample_spec(rng, variety=variety)
        if size_of == 2:
            other, kind = partner(spec, rng)
            group = [spec, other]
        else:
            group, kind = contrast_set(spec, rng), "set"
            if group is None:
                continue
        if rng.random() < translucent_share:
            group = translucent(group, rng)
        specs += group
        kinds.append(kind)
    return specs, kinds, render_blurred(specs, size, size_of, rng, max_blur)


def group_captions(
    specs: list, kinds: list[str], ids: list[int], size_of: int, seed: int
) -> list[str]:
    """Captions of every scene of each group, from one template per group (the same
    generator state), the background named in all when the group differs in it."""
    out = []
    for p in ids:
        force = True if kinds[p] in ("background", "set") else None
        for j in range(size_of * p, size_of * (p + 1)):
            out.append(caption(specs[j], np.random.default_rng([seed, p]), background=force))
    return out


def colour_groups(specs: list, stride: int = 1) -> list[torch.Tensor]:
    """Indices of ``specs[::stride]`` (scenes, or with stride 2 or 4 the groups) grouped
    by the colour term of their first object."""
    by: dict[str, list[int]] = {}
    for i, spec in enumerate(specs[::stride]):
        by.setdefault(spec.objects[0].color, []).append(i)
    return [torch.tensor(v) for _, v in sorted(by.items())]


def hard_batch(
    groups: list[torch.Tensor], batch: int, group: int, gen: torch.Generator
) -> torch.Tensor:
    """``batch // group`` colour groups of ``group`` members each (indices): within a
    group the first object's colour is the same, so only shape, position and the rest
    tell the captions apart (colour alone is learned first and then stops teaching)."""
    picks = torch.randperm(len(groups), generator=gen)[: batch // group]
    parts = []
    for g in picks.tolist():
        members = groups[g]
        parts.append(members[torch.randint(len(members), (group,), generator=gen)])
    return torch.cat(parts)


def save_weights(model, out: Path, seed: int, steps: int) -> dict:
    """Write the model's fp16 state dict to ``out`` whole (temp file, then rename);
    returns the state dict written."""
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    tmp = out.with_name(out.name + ".tmp")
    meta = {"model": TOY_MODEL, "seed": str(seed), "steps": str(steps)}
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(out)
    return state


def lr_at(step: int, steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    return 0.5 * base * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenes", type=int, default=12000, help="scenes (without --pairs)")
    ap.add_argument(
        "--pairs", type=int, default=0, help="minimal pairs instead of scenes (an experiment)"
    )
    ap.add_argument(
        "--sets",
        type=int,
        default=0,
        help="contrast sets of 4 instead of scenes (clipvg.toy.pairs.contrast_set)",
    )
    ap.add_argument(
        "--mix",
        type=float,
        default=0.0,
        help="with --pairs or --sets: the share of each batch that is single scenes (--scenes of them)",
    )
    ap.add_argument(
        "--init", type=weights_file, help="start from these weights (a second stage of training)"
    )
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument(
        "--group",
        type=int,
        default=16,
        help="scenes (or pairs, or sets) per same-colour group of a batch",
    )
    ap.add_argument(
        "--translucent", type=float, default=0.25, help="share of translucent pairs or sets"
    )
    ap.add_argument("--max-blur", type=float, default=0.8)
    ap.add_argument(
        "--cell-share", type=float, default=0.0, help="colours drawn from a term's whole cell"
    )
    ap.add_argument(
        "--morph-share", type=float, default=0.0, help="objects morphed partway to another shape"
    )
    ap.add_argument(
        "--wobble-share", type=float, default=0.0, help="objects with noisy outline points"
    )
    ap.add_argument(
        "--zoom-share", type=float, default=0.0, help="single objects drawn large in the centre"
    )
    ap.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="also save <out stem>.step<N>.safetensors every N steps",
    )
    ap.add_argument(
        "--adv-eps",
        type=float,
        default=0.0,
        help="adversarial training: train on renders perturbed within this L-inf radius (pixel units of 1/255)",
    )
    ap.add_argument(
        "--adv-steps", type=int, default=1, help="attack steps per batch (with --adv-eps)"
    )
    ap.add_argument(
        "--edit-attacks",
        type=int,
        default=0,
        help="edit-attack triplets per batch (clipvg.toy.attacks): scene, true recolour, attacked",
    )
    ap.add_argument("--attack-steps", type=int, default=4)
    ap.add_argument(
        "--attack-step", type=float, default=0.08, help="signed step per colour channel"
    )
    ap.add_argument(
        "--soft-colour",
        type=float,
        default=0.0,
        help="soft contrastive targets by CIELAB distance, this scale (soft_targets; single scenes only)",
    )
    ap.add_argument(
        "--paths",
        type=int,
        default=0,
        help="paths per batch: the edit's directional loss from scenes toward recolours or reshapes (path_loss)",
    )
    ap.add_argument("--path-weight", type=float, default=1.0, help="weight of path_loss")
    ap.add_argument(
        "--path-shapes", type=float, default=0.0, help="share of the paths that morph a shape"
    )
    ap.add_argument(
        "--path-backgrounds",
        type=float,
        default=1 / 3,
        help="share of the colour paths that recolour the background",
    )
    ap.add_argument(
        "--directions",
        type=int,
        default=0,
        help="contrast sets per batch whose paths' directions are told apart (direction_loss)",
    )
    ap.add_argument("--direction-weight", type=float, default=1.0)
    ap.add_argument(
        "--binding",
        type=float,
        default=0.0,
        help="with --directions: weight of the hinge that keeps background tints off objects' shifts",
    )
    ap.add_argument("--margin", type=float, default=0.0, help="the binding hinge's margin")
    ap.add_argument(
        "--views",
        type=float,
        default=0.0,
        help="share of the images (and of the direction sets' pairs) seen as an edit's patch views",
    )
    ap.add_argument(
        "--view-crop", type=float, default=0.6, help="smallest crop side of the patch views"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=30.0,
        help="safety stop on this process's CPU time (the log says if it hit)",
    )
    ap.add_argument(
        "--config",
        default=str(CONFIG_FILE),
        help="an open_clip model config named clipvg-toy.json (another architecture to try)",
    )
    ap.add_argument("--out", default=str(WEIGHTS_FILE))
    ap.add_argument("--summary", default=str(ROOT / "benchmarks/semantic/toy_training.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0, cpu0 = time.perf_counter(), time.process_time()
    register()
    import open_clip
    from open_clip.loss import ClipLoss

    config = Path(args.config)
    if config.stem != TOY_MODEL:
        ap.error(f"--config must be a file named {TOY_MODEL}.json (open_clip names it by its stem)")
    open_clip.add_model_config(config)
    cfg = json.loads(config.read_text())
    size = cfg["vision_cfg"]["image_size"]
    variety = Variety(
        args.cell_share,
        args.morph_share,
        wobble_share=args.wobble_share,
        zoom_share=args.zoom_share,
    )
    variety = variety if variety != Variety() else None
    if args.pairs and args.sets:
        ap.error("--pairs and --sets are two recipes; give one")
    if not (0 <= args.views <= 1 and 0 < args.view_crop <= 1):
        ap.error(
            f"--views must be in [0, 1] and --view-crop in (0, 1], got {args.views:g} and {args.view_crop:g}"
        )
    size_of = 2 if args.pairs else 4 if args.sets else 1
    if args.soft_colour and (size_of > 1 or args.edit_attacks):
        ap.error("--soft-colour takes the single-scene recipe (no --pairs, --sets, --edit-attacks)")
    if size_of > 1:
        count = args.pairs or args.sets
        specs, kinds, images = make_group_data(
            count, size_of, args.seed, size, args.max_blur, args.translucent, variety
        )
        counts = {k: kinds.count(k) for k in sorted(set(kinds))}
        what = f"{count} {'minimal pairs' if args.pairs else 'contrast sets'} {counts}"
    else:
        specs, images = make_data(args.scenes, args.seed, size, args.max_blur, variety)
        what = f"{args.scenes} scenes"
    groups = colour_groups(specs, size_of)
    singles = 0
    if size_of > 1 and args.mix > 0:
        # Single scenes beside the groups, captioned as the default recipe does (the
        # background named half the time), so that captions without it are learned too.
        more, more_images = make_data(args.scenes, args.seed + 7, size, args.max_blur, variety)
        singles, offset = round(args.batch * args.mix), len(specs)
        specs, images = specs + more, torch.cat([images, more_images])
        what += f" and {args.scenes} single scenes ({args.mix:.0%} of each batch)"
    data_s = time.perf_counter() - t0
    print(f"data: {what} at {size} px in {data_s:.0f} s", flush=True)

    torch.manual_seed(args.seed)
    model = open_clip.create_model(TOY_MODEL, pretrained=None)
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict({k: v.float() for k, v in load_file(args.init).items()})
    tokenizer = open_clip.get_tokenizer(TOY_MODEL)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    loss_fn = ClipLoss()
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    log, stopped = [], None
    out = Path(args.out)
    model.train()
    for step in range(args.steps):
        if size_of > 1:
            ids = hard_batch(groups, (args.batch - singles) // size_of, args.group, gen)
            idx = torch.stack([size_of * ids + j for j in range(size_of)], 1).reshape(-1)
            texts = group_captions(specs, kinds, ids.tolist(), size_of, args.seed * 100003 + step)
            if singles:
                extra = offset + torch.randint(args.scenes, (singles,), generator=gen)
                idx = torch.cat([idx, extra])
                texts += [caption(specs[i], rng) for i in extra.tolist()]
        else:
            idx = hard_batch(groups, args.batch, args.group, gen)
            texts = [caption(specs[i], rng) for i in idx.tolist()]
        x = images[idx].float() / 255
        if args.views:
            x = patch_views([x], args.views, gen, args.view_crop)[0]
        x = (x - mean) / std
        if args.edit_attacks:
            picks = torch.randint(len(specs), (args.edit_attacks,), generator=gen).tolist()
            more, more_texts = edit_attack_triplets(
                model,
                tokenizer,
                [specs[i] for i in picks],
                args.seed * 100003 + step,
                args.attack_steps,
                args.attack_step,
                size,
            )
            keep = args.batch - len(more_texts)
            x = torch.cat([x[:keep], (more - mean) / std])
            texts = texts[:keep] + more_texts
        tokens = tokenizer(texts)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        if args.adv_eps > 0:
            x = pixel_attack(
                model,
                loss_fn,
                x,
                tokens,
                args.adv_eps / 255 / std,
                args.adv_steps,
                gen,
                -mean / std,
                (1 - mean) / std,
            )
        img_f, txt_f, scale = model(x, tokens)
        if args.soft_colour:
            weights = soft_targets([specs[i] for i in idx.tolist()], texts, args.soft_colour)
            loss = soft_clip_loss(img_f, txt_f, scale, weights)
        else:
            loss = loss_fn(img_f, txt_f, scale)
        if args.paths:
            picks = torch.randint(len(specs), (args.paths,), generator=gen).tolist()
            x0, xa, said, wanted = path_points(
                [specs[i] for i in picks],
                args.seed * 100003 + step,
                size,
                args.path_backgrounds,
                args.path_shapes,
            )
            along = path_loss(model, tokenizer, x0, xa, said, wanted)
            loss = loss + args.path_weight * along
        if args.directions:
            picks = torch.randint(len(specs), (args.directions,), generator=gen).tolist()
            x0, xa, said, wanted, kinds = direction_sets(
                [specs[i] for i in picks], args.seed * 100003 + step + 1, size
            )
            if args.views:
                x0, xa = patch_views([x0, xa], args.views, gen, args.view_crop)
            told = direction_loss(
                model, tokenizer, x0, xa, said, wanted, scale, kinds, args.binding, args.margin
            )
            loss = loss + args.direction_weight * told
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            snap = out.with_name(f"{out.stem}.step{step + 1}{out.suffix}")
            save_weights(model, snap, args.seed, step + 1)
        if step % 25 == 0 or step == args.steps - 1:
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            log.append(
                {
                    "step": step,
                    "loss": round(loss.item(), 4),
                    "elapsed_s": round(elapsed, 1),
                    "cpu_s": round(cpu, 1),
                }
            )
            print(
                f"step {step:4d}  loss {loss.item():.4f}  "
                + (f"path {along.item():.4f}  " if args.paths else "")
                + (f"directions {told.item():.4f}  " if args.directions else "")
                + f"scale {model.logit_scale.exp().item():.1f}  "
                f"{elapsed:.0f} s wall, {cpu:.0f} s CPU",
                flush=True,
            )
            if cpu > args.max_minutes * 60:
                stopped = step + 1
                print(
                    f"stopped at the {args.max_minutes:g}-minute limit after {stopped} steps",
                    flush=True,
                )
                break
    train_s = time.perf_counter() - t0
    model.eval()
    state = save_weights(model, out, args.seed, stopped or args.steps)
    print(f"weights: {out} ({out.stat().st_size / 1e6:.1f} MB)", flush=True)

    # Evaluate the fp16-rounded weights, as they ship.
    model.load_state_dict({k: v.float() for k, v in state.items()})
    enc = OpenClipEncoder(
        model,
        tokenizer,
        MEAN,
        STD,
        name=TOY_MODEL,
        fuse_attention=False,
    )
    acc = evaluate.zero_shot(enc)
    acc_views = evaluate.zero_shot(enc, view=evaluate.EDIT_VIEW)
    bound = evaluate.binding(enc)
    audit = evaluate.direction_audit(enc, TextFeatureCache(enc))
    path = evaluate.color_path(enc)
    morph = evaluate.shape_morph(enc)
    summary = {
        "args": vars(args),
        "steps_run": stopped or args.steps,
        "data_s": round(data_s, 1),
        "train_s": round(train_s, 1),
        "cpu_s": round(time.process_time() - cpu0, 1),
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "log": log,
        "zero_shot": acc,
        "zero_shot_patch_views": acc_views,
        "binding": bound,
        "direction_audit": audit,
        "color_path_red_to_blue": [round(v, 4) for v in path],
        "shape_morph_circle_to_square": [round(v, 4) for v in morph],
        "color_path_monotonic": evaluate.monotonic(path),
        "shape_morph_monotonic": evaluate.monotonic(morph),
    }
    Path(args.summary).write_text(json.dumps(summary, indent=1) + "\n")
    print("zero-shot on 300 held-out scenes:", {k: f"{v:.1%}" for k, v in acc.items()})
    crop, distortion = evaluate.EDIT_VIEW
    print(
        f"the same seen as an edit's patches (crop {crop:g}, perspective {distortion:g}):",
        {k: f"{v:.1%}" for k, v in acc_views.items()},
    )
    print(f"binding (object vs background colour words): {bound:.1%}")
    print("direction audit, cos(dI, dT):", {k: round(v, 3) for k, v in audit.items()})
    print(
        "red->blue star margin:",
        [f"{v:+.3f}" for v in path],
        "monotonic" if summary["color_path_monotonic"] else "NOT monotonic",
    )
    print(
        "circle->square margin:",
        [f"{v:+.3f}" for v in morph],
        "monotonic" if summary["shape_morph_monotonic"] else "NOT monotonic",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
