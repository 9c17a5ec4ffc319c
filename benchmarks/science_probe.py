"""Does the EEG reach the captions? Attribute hit rates of a run on the synthetic dataset.

Usage::

    # run the pipeline (any overrides) and score the real captions and every control's
    python benchmarks/science_probe.py run threads=1 output_dir=/tmp/runs seed=0 [overrides...]
    # score an existing run directory (predictions.csv, and predictions_<control>.csv if present)
    python benchmarks/science_probe.py score RUN_DIR
    # full vs ONLY_OBJ of a finished run (regenerates ONLY_OBJ), image-clustered sign-flip p
    python benchmarks/science_probe.py paired RUN_DIR

A caption *hits* an attribute (colour, setting) when the true value's words appear in it and no
other value's words do (the dataset declares them: ``EEGData.attributes`` per image and
``EEGData.attribute_words`` per value). Also reported: test accuracy, retrieval top-1 and BLEU-4 of
the full pipeline and ONLY_OBJ, a linear probe of colour/setting on the EEG embeddings (fitted on
the training trials), the encoder's feature count and the wall time. ``run`` writes
``science.json`` into the run directory and prints one summary line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

Vocab = dict[str, list[str]]  # attribute value -> the words that realise it


def hits(captions: list[str], truth: list[str], vocab: Vocab) -> np.ndarray:
    """Per caption: the true value is named and no other value is."""
    pats = {
        v: re.compile(r"\b(?:" + "|".join(re.escape(w.lower()) for w in words) + r")\b")
        for v, words in vocab.items()
    }
    out = np.zeros(len(captions), dtype=bool)
    for i, (cap, true) in enumerate(zip(captions, truth, strict=True)):
        named = {v for v, p in pats.items() if p.search(cap.lower())}
        out[i] = named == {true}
    return out


def attribute_truth(data: Any, image_index: np.ndarray) -> dict[str, tuple[list[str], Vocab]]:
    """Per attribute: the true value of each listed image, and the value -> words table."""
    if not data.attributes:
        raise SystemExit(f"dataset {data.name!r} declares no attributes: nothing to probe.")
    return {
        attr: ([values[i] for i in image_index], data.attribute_words[attr])
        for attr, values in data.attributes.items()
    }


def hit_rates(captions: list[str], truth: dict[str, tuple[list[str], Vocab]]) -> dict:
    return {a: float(hits(captions, t, v).mean()) for a, (t, v) in truth.items()}


def sentence_bleu4(refs: list[str], cands: list[str]) -> np.ndarray:
    """Per-pair BLEU-4 as Thought2Text computes it (NLTK, smoothing method 4)."""
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    sm = SmoothingFunction().method4
    pairs = zip(refs, cands, strict=True)
    return np.array([corpus_bleu([[r.split()]], [c.split()], smoothing_function=sm)
                     for r, c in pairs])  # fmt: skip


def clustered_p(diff: np.ndarray, cluster: np.ndarray, n_perm: int = 10000, seed: int = 0) -> float:
    """Two-sided sign-flip test of mean(diff) = 0 flipping whole clusters (test images)."""
    ids, inv = np.unique(cluster, return_inverse=True)
    sums = np.bincount(inv, weights=diff, minlength=len(ids))
    obs = abs(sums.sum())
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_perm, len(ids)))
    return float((1 + (np.abs(signs @ sums) >= obs - 1e-12).sum()) / (n_perm + 1))


def _probe(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(train_x)
    clf = LogisticRegression(C=0.1, max_iter=2000).fit(sc.transform(train_x), train_y)
    return float((clf.predict(sc.transform(test_x)) == test_y).mean())


def run(overrides: list[str]) -> dict[str, Any]:
    import eegbench.runner as runner
    from eegbench.config import build_config

    captured: dict[str, Any] = {}
    evaluate = runner.evaluate

    def capturing(parts):
        captured["parts"] = parts
        captured["evaluated"] = evaluated = evaluate(parts)
        return evaluated

    runner.evaluate = capturing
    cfg = build_config(overrides)
    t0, c0 = time.perf_counter(), time.process_time()
    record = runner.run(cfg)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ev, parts = captured["evaluated"].inference, captured["parts"]
    data = parts.data
    te, tr = data.splits["test"], data.splits["train"]
    truth = attribute_truth(data, data.image[te])
    results = record.model_dump(mode="json")
    m = results["metrics"]
    out: dict[str, Any] = {
        "run_dir": str(record.run_dir),
        "seed": cfg.seed,
        "overrides": overrides,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "timings": results["timings"],
        "encoder_features": results["model"]["encoder_features"],
        "chance_retrieval": 1 / len(np.unique(data.image[te])),
        "accuracy": m["top1_accuracy"]["value"],
        "retrieval_top1": m.get("retrieval_top1", {}).get("value"),
        "bleu4": m.get("bleu_4", {}).get("value"),
        "hits": {"full": hit_rates(ev.real.captions, truth)},
    }
    for name, cond in ev.controls.items():
        out["hits"][name] = hit_rates(cond.captions, truth)
        cm = results["controls"][name]["metrics"]
        out.setdefault("control_bleu4", {})[name] = cm.get("bleu_4", {}).get("value")
    if "only_obj" in ev.controls:
        refs, img = ev.test.references, data.image[te]
        full_b = sentence_bleu4(refs, ev.real.captions)
        ctrl_b = sentence_bleu4(refs, ev.controls["only_obj"].captions)
        col_t, col_v = truth["colour"]
        d_col = hits(ev.real.captions, col_t, col_v).astype(float) - hits(
            ev.controls["only_obj"].captions, col_t, col_v
        )
        out["paired_vs_only_obj"] = {
            "bleu4_diff": float((full_b - ctrl_b).mean()),
            "bleu4_p_clustered": clustered_p(full_b - ctrl_b, img),
            "colour_hit_diff": float(d_col.mean()),
            "colour_hit_p_clustered": clustered_p(d_col, img),
        }
    # linear probes on the EEG embeddings
    emb_tr = parts.model.predict(data.X[tr])[0]
    emb_te = ev.real.embeddings
    gt = data.attributes
    out["probe"] = {
        a: _probe(
            emb_tr,
            np.array(gt[a])[data.image[tr]],
            emb_te,
            np.array(gt[a])[data.image[te]],
        )
        for a in gt
    }
    out["examples"] = list(zip(ev.test.references[:4], ev.real.captions[:4], strict=True))
    (record.run_dir / "science.json").write_text(json.dumps(out, indent=1))
    return out


def score(run_dir: Path) -> dict[str, Any]:
    from eegbench.config import build_config
    from eegbench.evaluation.predictions import read_predictions
    from eegbench.train.parts import load_dataset

    cfg = build_config(base=run_dir / "config.yaml")
    data = load_dataset(cfg)
    index = {n: i for i, n in enumerate(data.image_names)}
    out = {}
    for f in sorted(run_dir.glob("predictions*.csv")):
        p = read_predictions(f)
        truth = attribute_truth(data, np.array([index[n] for n in p.image]))
        out[f.stem] = hit_rates(p.generated, truth)
    return out


def paired(run_dir: Path) -> dict[str, Any]:
    """Full vs ONLY_OBJ of a finished run: ONLY_OBJ captions are regenerated (greedy decoding
    from the predicted labels, as the run did) and compared per trial, clustered by image."""
    from eegbench.evaluation.predictions import read_predictions
    from eegbench.tools.inference import load_run
    from eegbench.train.generation import generate_captions

    pipe = load_run(run_dir)
    data, ev = pipe.data, pipe.config.eval
    pred = read_predictions(run_dir / "predictions.csv")
    index = {n: i for i, n in enumerate(data.image_names)}
    img = np.array([index[n] for n in pred.image])
    ctrl = generate_captions(
        pipe.llm, pipe.projector, None, list(pred.predicted_object),
        max_new_tokens=ev.max_new_tokens, repetition_penalty=ev.repetition_penalty,
    )  # fmt: skip
    truth = attribute_truth(data, img)
    full_b = sentence_bleu4(pred.reference, pred.generated)
    ctrl_b = sentence_bleu4(pred.reference, ctrl)
    col_t, col_v = truth["colour"]
    d_col = hits(pred.generated, col_t, col_v).astype(float) - hits(ctrl, col_t, col_v)
    return {
        "hits_full": hit_rates(pred.generated, truth),
        "hits_only_obj": hit_rates(ctrl, truth),
        "bleu4_full_mean_pairs": float(full_b.mean()),
        "bleu4_only_obj_mean_pairs": float(ctrl_b.mean()),
        "bleu4_p_clustered": clustered_p(full_b - ctrl_b, img),
        "colour_hit_p_clustered": clustered_p(d_col, img),
    }


def summary(r: dict[str, Any]) -> str:
    h = r["hits"]
    o = h.get("only_obj", {})
    cb = r.get("control_bleu4", {})
    return (
        f"seed={r['seed']} wall={r['wall_s']}s cpu={r.get('cpu_s')}s feat={r['encoder_features']} "
        f"acc={r['accuracy']:.3f} top1={r['retrieval_top1']:.3f} "
        f"(chance {r['chance_retrieval']:.3f}) "
        f"bleu4={r['bleu4']:.3f} only_obj={cb.get('only_obj', float('nan')):.3f} "
        f"colour={h['full']['colour']:.3f}/{o.get('colour', float('nan')):.3f} "
        f"setting={h['full']['setting']:.3f}/{o.get('setting', float('nan')):.3f} "
        f"probe={r['probe']} paired={r.get('paired_vs_only_obj')}"
    )


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    if cmd == "run":
        res = run(rest)
        print(summary(res))
        for ref, gen in res["examples"]:
            print(f"  ref: {ref}\n  gen: {gen}")
    elif cmd == "paired":
        print(json.dumps(paired(Path(rest[0])), indent=1))
    else:
        print(json.dumps(score(Path(rest[0])), indent=1))
