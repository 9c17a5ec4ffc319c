"""Record the Java PTB tokenizer's output for tests/data/ptb_java_outputs.json.

``python -m tests.ptb_java`` (with ``java`` on PATH) re-runs pycocoevalcap's Stanford
PTBTokenizer on the inputs already in the fixture and rewrites the expected outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

FIXTURE = Path(__file__).parent / "data" / "ptb_java_outputs.json"


def java_ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """pycocoevalcap's ``PTBTokenizer`` (Java) on ``texts``, read as one file as COCO does."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    # the tokenizer reports its speed on stderr: run it in a child with stderr discarded
    code = (
        "import json, sys\n"
        "from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer\n"
        "texts = json.load(sys.stdin)\n"
        "out = PTBTokenizer().tokenize({i: [{'caption': t}] for i, t in enumerate(texts)})\n"
        "json.dump([out[i][0] for i in range(len(texts))], sys.stdout)\n"
    )
    del PTBTokenizer  # imported above only to fail early without pycocoevalcap
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    return json.loads(proc.stdout)


def main() -> None:
    data = json.loads(FIXTURE.read_text())
    inputs = [c["input"] for c in data["cases"]]
    data["cases"] = [
        {"input": t, "java": j} for t, j in zip(inputs, java_ptb_tokenize(inputs), strict=True)
    ]
    for key in ("hyps", "refs"):
        texts = data["cider"][key]
        data["cider"][f"{key}_java"] = java_ptb_tokenize(texts)
    FIXTURE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
