"""Every code block in README.md and docs/*.md is checked, so the docs cannot drift.

- ``python runnable`` blocks are executed (in a temporary folder); other python blocks are
  compiled;
- ``toml`` and ``yaml`` blocks are parsed;
- in ``bash`` blocks and blocks without a language, every ``eegbench`` command is parsed by
  the real click command (names, options, choices), and ``eegbench run`` overrides are resolved
  against the registries (unknown groups, keys and names fail).
"""

from __future__ import annotations

import re
import shlex
import sys
import types
from pathlib import Path

import click
import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)


def blocks() -> list[tuple[str, str, str, str]]:
    """(id, file, info string, code) for every fenced block."""
    out = []
    for path in DOCS:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text[: m.start()].count("\n") + 1
            out.append((f"{path.name}:{line}", str(path), m.group(1).strip(), m.group(2)))
    return out


BLOCKS = blocks()


def eegbench_commands(code: str) -> list[tuple[list[str], str | None]]:
    """``(args, expected error)`` of every ``eegbench`` invocation in a shell snippet.

    A line commented ``# error: TEXT`` must fail with a message holding TEXT (``...`` elides).
    """
    code = re.sub(r"\\\n\s*", " ", code)
    found = []
    for line in code.splitlines():
        line, _, comment = line.partition(" #")
        line = line.strip().removeprefix("$ ")
        if line.startswith("#"):
            continue
        comment = comment.strip()
        expected = comment.removeprefix("error:").strip() if comment.startswith("error") else None
        line = re.sub(r"\$\{?\w+\}?", "0", line)  # shell variables: a plausible value
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            if words and Path(words[0]).name == "eegbench":
                found.append((words[1:], expected))
    return found


def check_command(args: list[str]) -> None:
    """Parse ``eegbench ARGS`` with the real click commands; resolve ``run`` overrides."""
    from eegbench.cli import cli

    if not args or args[0] in ("-h", "--help", "--version"):
        return
    ctx = cli.make_context("eegbench", list(args), resilient_parsing=False)
    rest = [*ctx._protected_args, *ctx.args] if hasattr(ctx, "_protected_args") else ctx.args
    name, cmd, sub_args = cli.resolve_command(ctx, rest)
    assert cmd is not None, f"no command {name!r}"
    if any(a in ("-h", "--help") for a in sub_args):
        return
    sub = cmd.make_context(name, list(sub_args), parent=ctx)
    if name in ("run", "config", "bench", "embed"):
        from eegbench.config import build_config, parse_override, presets

        overrides = [a for a in sub.params.get("overrides", ()) if "=" in a]
        if name == "bench":
            return
        for o in overrides:
            parse_override(o)
        base = sub.params.get("config_path")
        if name in ("run", "config") and (base is None or base in presets()):
            build_config(overrides, base=base)


EXAMPLE_SRC = ROOT / "examples" / "eegbench-example-plugin" / "src"


@pytest.fixture(scope="module", autouse=True)
def example_plugin():
    """The docs use the example package's items (``example-tcn``, ...): register its plugin."""
    import importlib

    from eegbench import plugins

    sys.path.insert(0, str(EXAMPLE_SRC))
    try:
        module = importlib.import_module("eegbench_example.plugin")
        plugins.register_plugin(module, "example", ("eegbench-example-plugin", "0.1.0"))
        yield
    finally:
        plugins.reset()
        sys.path.remove(str(EXAMPLE_SRC))
        for name in [m for m in sys.modules if m.startswith("eegbench_example")]:
            del sys.modules[name]


@pytest.mark.parametrize("where,path,info,code", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_code_block(where, path, info, code, tmp_path, monkeypatch):
    lang, _, flags = info.partition(" ")
    if lang == "python":
        compiled = compile(code, where, "exec")
        if "runnable" in flags.split():
            monkeypatch.chdir(tmp_path)
            module = types.ModuleType(re.sub(r"\W", "_", f"docs_{where}"))
            monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses need it
            exec(compiled, module.__dict__)
    elif lang == "toml":
        if tomllib is None:
            pytest.skip("Python < 3.11 has no tomllib")
        tomllib.loads(code)
    elif lang == "yaml":
        yaml.safe_load(code)
    elif lang in ("bash", "sh", "console", ""):
        for args, expected in eegbench_commands(code):
            shown = f"{where}: `eegbench {' '.join(args)}`"
            try:
                check_command(args)
            except click.exceptions.Exit:
                pass
            except Exception as e:
                if expected is None:
                    raise AssertionError(f"{shown}: {e}") from e
                for fragment in filter(None, (f.strip() for f in expected.split("..."))):
                    assert fragment in f"error: {e}", f"{shown}: {e!s} lacks {fragment!r}"
            else:
                assert expected is None, f"{shown} should fail with {expected!r}"


def test_extractor_sees_the_blocks():
    langs = {b[2].split(" ")[0] for b in BLOCKS}
    assert {"python", "bash", "toml", ""} <= langs
    assert any("runnable" in b[2] for b in BLOCKS)
    assert eegbench_commands("x && .venv/bin/eegbench ls -v  # c\neegbench run \\\n  seed=$s") == [
        (["ls", "-v"], None),
        (["run", "seed=0"], None),
    ]
    assert eegbench_commands("eegbench run x=1  # error: bad ... key") == [
        (["run", "x=1"], "bad ... key")
    ]
    with pytest.raises(click.UsageError):
        check_command(["ls", "--nope"])
    from eegbench.contract.errors import ConfigError

    with pytest.raises(ConfigError):
        check_command(["run", "encoder=nope"])


def test_readme_is_short_and_its_links_resolve():
    """README.md is a newcomer's five minutes (what it is, the two commands, one table, where to
    go next); every relative link in it points to a file that exists (and a heading there)."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert len(local) >= 10
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.is_file(), link
        if anchor:
            headings = re.findall(r"^#+ (.+)$", target.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, link
