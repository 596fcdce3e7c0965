"""Every code block of README.md and docs/*.md runs as written.

```python blocks are executed, each in a fresh namespace, in a working directory that stands
for a clone: `../shared` beside it (the shared CIFAR-10 data), `examples/` and `.venv` linked
in, and `cat.png` / `ship.jpg` (two real CIFAR-10 test images, a cat and a ship) for the
commands that take "image files of yours". Where a page says the reader brings `images` and
`labels`, the block gets 320 real CIFAR-10 test images (raw uint8 RGB) and their labels.
Every command of a ```bash block is run there with this interpreter's environment first on
PATH (`python`, `keras-resnet`; a `keras-resnet ...` line without shell syntax runs in this
process, through the console script's `main`), except the set-up commands, checked instead of
re-run (they are the exact commands of scripts/ and .ci/run), and the by-hand torchvision
parity commands, whose test is collected with this interpreter. A block of anything else is
```text. Links between the pages point to files and headings that exist."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import REPO, SHARED, keras_resnet_main

import keras_resnet as kr

README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
LANGUAGES = {"python", "bash", "sh", "console", "text"}
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence
    language: str
    code: str
    slow: bool  # marked where it is written: ```bash slow (over ~10 s on a 2-core CPU)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO).as_posix()}:{self.line}"

    def commands(self) -> list[str]:
        """The block's command lines, continuation lines joined; comments and blank lines dropped.
        A ```console block's commands are its `$ ` lines."""
        lines = self.code.replace("\\\n", " ").splitlines()
        if self.language == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        return [strip_comment(line) for line in lines if strip_comment(line)]


def strip_comment(line: str) -> str:
    """A shell line without its comment (a `#` that starts a word, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        language, *flags = m[1].split() or [""]
        found.append(Block(page, text.count("\n", 0, m.start()) + 1, language, m[2], "slow" in flags))
    return found


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]


def is_finetuning(block: Block) -> bool:
    return block.page == README and block.language == "python" and "freeze_batchnorm(" in block.code


def cases(language: set[str]) -> list:
    return [pytest.param(b, id=b.name, marks=[pytest.mark.slow] if b.slow else [])
            for b in ALL_BLOCKS if b.language in language and not is_finetuning(b)]


# ---------------------------------------------------------------------------------------------
# The pages themselves


def test_every_block_names_its_language():
    """A block that is not code says so (```text), so that every code block is run."""
    unnamed = [f"{b.name} ```{b.language}" for b in ALL_BLOCKS if b.language not in LANGUAGES]
    assert not unnamed, f"blocks without a language this test knows ({sorted(LANGUAGES)}): {unnamed}"
    assert len(ALL_BLOCKS) >= 15, [b.name for b in ALL_BLOCKS]


def test_readme_reads_in_five_minutes():
    """At most 180 lines; its first screen holds the two commands for a fresh machine and the one
    environment change `import keras_resnet` makes."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 180, len(lines)
    first_screen = "\n".join(lines[:40])
    assert blocks(README)[0].commands() == [
        "bash scripts/setup.sh && .venv/bin/python examples/classify_cifar10.py", "bash scripts/test.sh"]
    assert "TF_ENABLE_ONEDNN_OPTS" in first_screen and blocks(README)[0].line < 15
    for page in ("docs/models.md", "docs/weights.md", "docs/training.md", "docs/deployment.md", "docs/backends.md",
                 "docs/command-line.md", "docs/reliability.md", "CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md",
                 "BENCHMARKS.md"):
        assert f"]({page})" in "\n".join(lines), f"README.md does not link {page}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


LINKED_PAGES = [*PAGES, REPO / "CHANGELOG.md", REPO / "CONTRIBUTING.md", REPO / "SECURITY.md"]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_links_point_to_files_and_headings_that_exist(page):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


# ---------------------------------------------------------------------------------------------
# Running the blocks


@pytest.fixture(scope="session")
def reader_data(cifar_test):
    """What a page's reader brings: `images` (raw RGB 0-255) and integer `labels`."""
    images, labels = cifar_test
    return images[:320], labels[:320].astype("int64")


@pytest.fixture(scope="session")
def clone(shared, cifar_test, tmp_path_factory) -> Path:
    """A working directory standing for the clone: `../shared` beside it, `examples/` and the
    environment's `.venv`, and two image files of the reader's."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("docs")
    (root / "shared").symlink_to(SHARED.parent, target_is_directory=True)
    work = root / "clone"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    images, labels = cifar_test
    assert list(labels[:2]) == [3, 8]  # a cat, a ship (shared/README.md)
    (work / "cat.png").write_bytes(tf.io.encode_png(images[0]).numpy())
    (work / "ship.jpg").write_bytes(tf.io.encode_jpeg(images[1]).numpy())
    return work


def run_python_block(block: Block, namespace: dict, work: Path, monkeypatch) -> dict:
    """Execute the block in `namespace` in `work`, its line numbers the page's; Keras' global
    settings put back after it."""
    monkeypatch.chdir(work)
    code = compile("\n" * block.line + block.code, str(block.page), "exec")
    try:
        exec(code, namespace)
    finally:
        keras.config.set_image_data_format("channels_last")
        keras.config.set_dtype_policy("float32")
        keras.backend.clear_session()
    return namespace


@pytest.mark.parametrize("block", cases({"python"}))
def test_python_block(block, reader_data, clone, monkeypatch):
    images, labels = reader_data
    run_python_block(block, {"__name__": "__main__", "images": images.copy(), "labels": labels.copy()}, clone,
                     monkeypatch)


def test_finetuning_snippet_runs_as_written(reader_data, clone, monkeypatch):
    """The README's snippet reads its 320 real CIFAR-10 images with the package's loader from the
    shared subset, as a reader runs it; the documented path must train (the loss falls and stays
    finite), not diverge silently."""
    found = [b for b in blocks(README) if is_finetuning(b)]
    assert len(found) == 1, f"README.md must hold one ```python block with freeze_batchnorm(; found {len(found)}"
    namespace = run_python_block(found[0], {}, clone, monkeypatch)
    np.testing.assert_array_equal(namespace["images"], reader_data[0])  # the shared test images, not a download
    losses = namespace["history"].history["loss"]
    assert len(losses) >= 2 and np.isfinite(losses).all(), losses
    assert losses[-1] < 0.8 * losses[0], losses


def setup_script_runs(command: str) -> str:
    """The set-up commands are checked, not re-run: each is the exact command the project's own
    scripts run (scripts/test.sh sets up with scripts/setup.sh; CI, .ci/run, runs scripts/test.sh)."""
    caller = {"bash scripts/setup.sh": REPO / "scripts" / "test.sh", "bash scripts/test.sh": REPO / ".ci" / "run"}
    script = REPO / command.split()[1]
    runs = re.compile(rf"^{re.escape(command)}(\s|$)", re.MULTILINE)
    assert script.is_file() and runs.search(caller[command].read_text(encoding="utf-8")), command
    return "checked"


BY_HAND = "/tmp/tv/bin/"  # the torchvision parity environment (docs/weights.md): torch 2.14 beside torchvision


def by_hand(command: str, env: dict) -> str:
    """The by-hand torchvision parity commands: the installs are not run (they download torch and
    torchvision); the test command is collected with this interpreter, so its file and marker exist."""
    if "-m pytest" not in command:
        assert command.startswith(("python3 -m venv /tmp/tv && /tmp/tv/bin/pip install ", "/tmp/tv/bin/pip ")), command
        return "install, not run"
    local = command.replace(f"{BY_HAND}python", shlex.quote(sys.executable)).replace("PYTHONPATH=.. ", "")
    line = f"cd {shlex.quote(str(REPO))} && {local} --collect-only -q -p no:cacheprovider"
    result = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0 and re.search(r"[1-9]\d*/\d+ tests collected", result.stdout), result.stdout[-2000:]
    return "collected"


SETUP = ("bash scripts/setup.sh", "bash scripts/test.sh")
_done: set[str] = set()  # commands already run in this session, in the shared working directory


SHELL_SYNTAX = re.compile(r"[|&;<>()$`*?~=\\]")


def console_script_argv(line: str) -> list[str] | None:
    """The arguments of a `keras-resnet ...` line that bash would pass as they are written (no
    pipes, redirections, variables, globs or assignments); None for any other line."""
    words = shlex.split(line)
    if words[0] != "keras-resnet" or SHELL_SYNTAX.search(line):
        return None
    return words[1:]


def run_in_this_process(argv: list[str], clone: Path, keras_home: Path, capsys, monkeypatch):
    """`keras-resnet ARGV` in `clone` through the console script's `main` (conftest's
    `keras_resnet_main`): the same code as a new process but for TensorFlow's import (~5 s a
    command). The console script as a process is tested in tests/cli and tests/package."""
    with monkeypatch.context() as m:
        m.chdir(clone)
        m.setenv("KERAS_HOME", str(keras_home))
        return keras_resnet_main(capsys, *argv)


@pytest.mark.parametrize("block", cases({"bash", "sh", "console"}))
def test_shell_block(block, clone, tmp_path_factory, capsys, monkeypatch):
    keras_home = tmp_path_factory.mktemp("keras_home")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_HOME": str(keras_home)}
    env.pop("KERAS_BACKEND", None)  # the page's commands choose it, as a reader's shell would
    for command in block.commands():
        if BY_HAND in command:
            by_hand(command, env)
            continue
        parts = [part.strip() for part in command.split("&&")]
        to_run = [part for part in parts if not part.startswith(SETUP)]
        for part in parts:
            if part.startswith(SETUP):
                setup_script_runs(part)
        line = " && ".join(to_run)
        if not line or line in _done:
            continue
        argvs = [console_script_argv(part) for part in to_run]
        # in this process only if every part is a console-script line; else the whole line in bash
        for part, argv in zip(to_run, argvs) if None not in argvs else [(line, None)]:
            result = (run_in_this_process(argv, clone, keras_home, capsys, monkeypatch) if argv is not None else
                      subprocess.run(["bash", "-c", part], cwd=clone, capture_output=True, text=True, timeout=900,
                                     env=env))
            failed = f"{block.name}: `{part}` exited {result.returncode}:\n"
            assert result.returncode == 0, failed + result.stderr[-3000:]
        _done.add(line)


@pytest.mark.slow
def test_layers_of_the_package_load_with_plain_keras_once_imported(clone):
    """docs/models.md: `import keras_resnet` alone does not register CentreCrop (names load on
    use); importing it, or using any builder, does. Two fresh processes."""
    path = clone / "centre_crop.keras"
    kr.ResNet18(include_preprocessing="torch", include_top=False, input_shape=(None, None, 3)).save(path)
    probe = f"""
import keras, keras_resnet, sys
def loads():
    try:
        keras.models.load_model({str(path)!r}, safe_mode=True)
        return True
    except Exception:
        return False
before = loads()
if sys.argv[1] == "import":
    from keras_resnet import CentreCrop, PixelMean
else:
    keras_resnet.CifarResNet(1)
print(before, loads())
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for way in ("import", "builder"):
        result = subprocess.run([sys.executable, "-c", probe, way], capture_output=True, text=True, timeout=600,
                                env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split() == ["False", "True"], (way, result.stdout)
