"""Tutorial: score an external Thought2Text prediction CSV, and compare two of them.

Thought2Text writes its test predictions as a CSV with the columns (index), Ground Truth Image,
Expected object, Predicted object, Expected Caption, Generated Caption. ``eegbench score``
scores such a file with Thought2Text's own notebook protocol (caption clean-up, per-pair NLTK
BLEU with smoothing method 4, the ``rouge`` package, NLTK METEOR), or with COCO's
(``--protocol coco``, needs Java); ``eegbench compare`` tests two files trial by trial.

    python examples/tutorials/score_thought2text.py --out my-folder
"""

from __future__ import annotations

import csv
import json

from _common import eegbench, workdir

HEADER = [
    "",
    "Ground Truth Image",
    "Expected object",
    "Predicted object",
    "Expected Caption",
    "Generated Caption",
]
TRIALS = [  # image, expected object, reference caption
    ("n02106662_1152", "dog", "A brown dog running on the grass."),
    ("n02124075_543", "cat", "A black cat sitting on a sofa."),
    ("n03452741_2087", "piano", "A grand piano in a concert hall."),
    ("n13054560_812", "mushroom", "Two white mushrooms in the forest."),
    ("n02106662_7720", "dog", "A small dog lying on a bed."),
    ("n03452741_301", "piano", "An old upright piano against a wall."),
]


def write_predictions(path, predicted, generated):
    """A prediction file in Thought2Text's layout."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i, ((image, obj, ref), pred, gen) in enumerate(zip(TRIALS, predicted, generated)):
            out.writerow([i, image, obj, pred, ref, gen])


def main() -> None:
    folder = workdir(__doc__)
    model_a = folder / "model_a.csv"
    write_predictions(
        model_a,
        ["dog", "cat", "piano", "dog", "dog", "piano"],
        [
            "A brown dog playing on the grass.",
            "A cat sitting on a sofa. It is black.",  # the protocol keeps the first sentence
            "A piano in a hall.",
            "A dog in the forest.",
            "A small dog on a bed.",
            "A piano against a wall.",
        ],
    )
    model_b = folder / "model_b.csv"
    write_predictions(
        model_b,
        ["cat", "cat", "dog", "mushroom", "cat", "piano"],
        [
            "A cat on the grass.",
            "A white cat.",
            "A dog in a room.",
            "Mushrooms.",
            "A cat on a bed.",
            "An instrument.",
        ],
    )
    # the scores as a table, and as JSON in model_a.scores.json beside the file
    eegbench("score", str(model_a), "--protocol", "thought2text")
    scores = json.loads((folder / "model_a.scores.json").read_text())
    print(f"model A: BLEU-4 {scores['bleu_4']:.3f}, accuracy {scores['accuracy']:.3f}")
    # trial-by-trial: paired permutation tests, trials that share an image permuted together
    metrics = ["--metrics", "object_match,bleu", "--n-perm", "500"]
    eegbench("compare", str(model_b), str(model_a), *metrics)


if __name__ == "__main__":
    main()
