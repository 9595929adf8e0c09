"""The CLI front door, through the installed `fer-bench` console script: every usage mistake ends in one line
(exit status, message, no traceback, no TensorFlow start-up noise), every command's --help renders, and the
help keeps the text rich could eat ("[sweep]") while dropping typer's "<bool>" and "{model}" decorations.

No case trains or reads real data: bad options, missing arguments and nonexistent paths only. The cases run
in parallel subprocesses (2 workers); the few that import TensorFlow are the point of the noise check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

EXE = shutil.which("fer-bench")
pytestmark = pytest.mark.skipif(EXE is None, reason="the fer-bench console script is not on PATH "
                                                    "(pip install -e . puts it there)")

#: a path that cannot exist or be created (not even by root): below a character device
NOPE = "/dev/null/fer-bench-frontdoor"

#: TensorFlow's native start-up lines (absl, oneDNN, CUDA, CPU features, cuInit); none may reach the user
TF_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cpu_feature_guard",
            "cuInit", "This TensorFlow binary is optimized", "I0000 00:00", "E0000 00:00", "W0000 00:00")

#: click says "No such option: --bogus", click >= 8.2 "No such option '--bogus'."
BOGUS = ("No such option", "--bogus")

#: (argv, exit status, substring of the message, or a tuple of substrings that must all appear); the message is
#: checked on stderr's "error:" line when the status is not 0, else on stdout
CASES = [
    # the app itself
    ([], 0, "Usage: fer-bench"),
    (["--help"], 0, "Usage: fer-bench"),
    (["nosuchcommand"], 2, "No such command 'nosuchcommand'"),
    (["--bogus"], 2, BOGUS),
    # run
    (["run"], 2, "pass --train DATASET"),
    (["run", "--epochs", "1"], 2, "fer-bench quickstart"),
    (["run", "--help"], 0, "--train"),
    (["run", "--bogus"], 2, BOGUS),
    (["run", "--res", "abc"], 2, "'--res'"),
    (["run", "--epochs", "x", "--train", "synth:lab"], 2, "'--epochs'"),
    (["run", "--balance", "heavy", "--train", "synth:lab"], 2, "unknown --balance 'heavy'"),
    # sweep
    (["sweep", "--help"], 0, "[sweep]"),
    (["sweep"], 2, "no models given"),
    (["sweep", "--bogus"], 2, BOGUS),
    (["sweep", "--epochs", "many"], 2, "'--epochs'"),
    (["sweep", "--config", f"{NOPE}/sweep.toml", "--dry-run"], 2, "sweep.toml"),
    # leaderboard
    (["leaderboard", "--help"], 0, "--merge"),
    (["leaderboard", "--results", NOPE], 2, "no runs found"),
    (["leaderboard", "--format", "xml"], 2, "unknown --format 'xml'"),
    (["leaderboard", "--bogus"], 2, BOGUS),
    # quickstart
    (["quickstart", "--help"], 0, "--epochs"),
    (["quickstart", "--epochs", "soon"], 2, "'--epochs'"),
    (["quickstart", "--bogus"], 2, BOGUS),
    # datasets
    (["datasets"], 0, "inspect"),
    (["datasets", "--help"], 0, "inspect"),
    (["datasets", "nosuch"], 2, "No such command 'nosuch'"),
    (["datasets", "inspect", "--help"], 0, "synth:wild[?n=200"),
    (["datasets", "inspect"], 2, "Missing argument"),
    (["datasets", "inspect", NOPE], 2, NOPE),
    (["datasets", "inspect", "synth:lab", "--max-images", "some"], 2, "'--max-images'"),
    (["datasets", "list", "--help"], 0, "--registry"),
    (["datasets", "list", "--bogus"], 2, BOGUS),
    (["datasets", "synth", "--help"], 0, "--out"),
    (["datasets", "synth"], 2, "Missing option '--out'"),
    (["datasets", "synth", "--out", NOPE, "--size", "big"], 2, "'--size'"),
    (["datasets", "synth", "--out", NOPE, "--n-per-class", "0"], 2, "'--n-per-class'"),
    # models
    (["models"], 0, "show"),
    (["models", "--help"], 0, "show"),
    (["models", "list", "--help"], 0, "--family"),
    (["models", "list", "--res", "abc"], 2, "'--res'"),
    (["models", "show", "--help"], 0, "Usage: fer-bench models show [OPTIONS] NAME"),
    (["models", "show"], 2, "Missing argument"),
    (["models", "show", "lenet5", "--res", "wide"], 2, "'--res'"),
    # weights
    (["weights"], 0, "status"),
    (["weights", "--help"], 0, "status"),
    (["weights", "status", "--help"], 0, "--json"),
    (["weights", "status", "--bogus"], 2, BOGUS),
    (["weights", "fetch", "--help"], 0, "NAME"),
    (["weights", "fetch"], 2, "Missing argument"),
    (["weights", "import", "--help"], 0, "NAME FILE"),
    (["weights", "import", "nosuchweights"], 2, "Missing argument"),
    (["weights", "import", "nosuchweights", f"{NOPE}/w.h5"], 2, "unknown weights 'nosuchweights'"),
    # report, plot
    (["report", "--help"], 0, "--results"),
    (["report", "--bogus"], 2, BOGUS),
    (["report", "--results", NOPE], 2, "no runs found"),
    (["plot", "--help"], 0, "KIND"),
    (["plot"], 2, "Missing argument"),
    (["plot", "nokind", "--out", f"{NOPE}/x.png"], 2, "unknown plot kind 'nokind'"),
    # publish
    (["publish", "--help"], 0, "--to"),
    (["publish"], 2, "Missing argument"),
    (["publish", NOPE, "--to", f"{NOPE}/dest"], 2, "no runs/ folder"),
    # status
    (["status", "--help"], 0, "--results"),
    (["status", "--results", NOPE], 2, "no such results folder"),
    # predict, bench-latency
    (["predict", "--help"], 0, "INPUT..."),
    (["predict"], 2, "Missing argument"),
    (["bench-latency", "--help"], 0, "MODEL..."),
    (["bench-latency"], 2, "Missing argument"),
    # video
    (["video"], 0, "quickstart"),
    (["video", "--help"], 0, "quickstart"),
    (["video", "nosuch"], 2, "No such command 'nosuch'"),
    (["video", "run", "--help"], 0, "--features"),
    (["video", "run", NOPE], 2, f"{NOPE}: no such folder"),
    (["video", "run", NOPE, "--seeds", "a,b"], 2, "pass integers"),
    (["video", "run", NOPE, "--features", "pixels"], 2, "unknown feature kind 'pixels'"),
    (["video", "run"], 2, "pass the dataset folder once"),
    (["video", "synth", "--help"], 0, "--render"),
    (["video", "synth"], 2, "Missing argument 'OUT'"),
    (["video", "quickstart", "--help"], 0, "--results"),
    (["video", "quickstart", "--bogus"], 2, BOGUS),
    (["video", "leaderboard", "--help"], 0, "--results"),
    (["video", "leaderboard", "--bogus"], 2, BOGUS),
    (["video", "compare", "--help"], 0, "--ratings"),
    (["video", "compare"], 2, "Missing argument 'RUN'"),
    (["video", "compare", NOPE, "--ratings", f"{NOPE}/r.csv"], 2, f"{NOPE}: not a folder"),
    # build-btfer
    (["build-btfer", "--help"], 0, "--per-class"),
    (["build-btfer"], 2, "Missing argument"),
    (["build-btfer", NOPE], 2, "Missing option '--out'"),
    (["build-btfer", NOPE, "--out", f"{NOPE}/out", "--detector", "yolo"], 2, "'--detector'"),
    (["build-btfer", NOPE, "--out", f"{NOPE}/out", "--per-class", "lots"], 2, "'--per-class'"),
    # evaluate
    (["evaluate", "--help"], 0, "--data"),
    (["evaluate"], 2, "Missing argument"),
    (["evaluate", f"{NOPE}/model.keras"], 2, "Missing option '--data'"),
    (["evaluate", f"{NOPE}/model.keras", "--data", "synth:wild", "--role", "judge"], 2, "unknown --role 'judge'"),
    (["evaluate", f"{NOPE}/model.keras", "--data", "synth:wild", "--input-size", "big"], 2, "'--input-size'"),
    (["evaluate", f"{NOPE}/model.keras", "--data", "synth:wild"], 2, f"model file {NOPE}/model.keras not found"),
    # export
    (["export", "--help"], 0, "Usage: fer-bench export [OPTIONS] MODEL [OUT]"),
    (["export"], 2, "Missing argument"),
    (["export", f"{NOPE}/model.keras"], 2, f"{NOPE}/model.keras: no such model file"),
    (["export", f"{NOPE}/model.keras", "/tmp/x.keras", "--bogus"], 2, BOGUS),
    (["export", f"{NOPE}/model.keras", f"{NOPE}/out.keras"], 2, f"{NOPE}/model.keras: no such model file"),
    # ensemble
    (["ensemble", "--help"], 0, "Usage: fer-bench ensemble [OPTIONS] OUT MEMBERS..."),
    (["ensemble"], 2, "Missing argument"),
    (["ensemble", "/tmp/out.keras"], 2, "Missing argument"),
    (["ensemble", "/tmp/out.keras", "a.keras", "b.keras", "--bogus"], 2, BOGUS),
    (["ensemble", f"{NOPE}/out.keras", f"{NOPE}/a.keras", "b.keras"], 2, f"model file {NOPE}/a.keras not found"),
]

#: cases that load TensorFlow (and, for run, probe the devices) before failing: the noise check is about these.
#: Each costs a TF import (5-15 s on a busy 2-core machine), so there are few.
TF_CASES = [
    (["run", "--train", NOPE, "--results", NOPE], 2, NOPE),
    (["models", "show", "resnet9000"], 2, "unknown model 'resnet9000'"),
    (["models", "list", "--family", "nosuchfamily"], 2, "no models in family 'nosuchfamily'"),
    (["evaluate", __file__, "--data", "synth:wild"], 2, __file__),  # exists, is no model
]
#: the first TF case again with --verbose: TF's lines must show there
VERBOSE = ["--verbose", "models", "show", "resnet9000"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FER_BENCH_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    env.update(COLUMNS="100", NO_COLOR="1", FER_BENCH_DATASETS=f"{NOPE}/datasets.toml")
    return env


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *argv], capture_output=True, text=True, timeout=300, env=_env(),
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def outcomes() -> dict[tuple[str, ...], subprocess.CompletedProcess]:
    """Every case run once, two at a time (a TF import costs seconds; the rest are ~0.5 s)."""
    argvs = list(dict.fromkeys([*(tuple(a) for a, _, _ in TF_CASES + CASES), tuple(VERBOSE)]))
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(argvs, pool.map(lambda a: _run(list(a)), argvs), strict=True))


def _check(proc: subprocess.CompletedProcess, argv, status: int, needle: str) -> None:
    both = proc.stdout + proc.stderr
    where = f"fer-bench {' '.join(argv)} -> {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == status, where
    assert "Traceback" not in both, where
    noise = [n for n in TF_NOISE if n in both]
    assert not noise, f"TensorFlow noise {noise}: {where}"
    needles = needle if isinstance(needle, tuple) else (needle,)
    if status == 0:
        assert all(n in proc.stdout for n in needles), where
        assert not proc.stderr.strip(), where
    else:
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error: "), f"not one error line: {where}"
        assert all(n in errors[0] for n in needles), where


@pytest.mark.parametrize("argv,status,needle", CASES, ids=[" ".join(c[0]) or "(no args)" for c in CASES])
def test_usage(outcomes, argv, status, needle):
    _check(outcomes[tuple(argv)], argv, status, needle)


@pytest.mark.parametrize("argv,status,needle", TF_CASES, ids=[" ".join(c[0][:2]) for c in TF_CASES])
def test_errors_after_tensorflow_import_are_quiet(outcomes, argv, status, needle):
    _check(outcomes[tuple(argv)], argv, status, needle)


def test_every_command_is_covered():
    """Each command and subcommand listed by `fer-bench --help` has a --help case and a bad-usage case."""
    import typer

    from fer_bench.cli.app import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, [*path, name])
        else:
            yield path

    covered_help = {tuple(a[:-1]) for a, _, _ in CASES if a and a[-1] == "--help"}
    covered_bad = [tuple(a) for a, status, _ in CASES + TF_CASES if status != 0]
    for path in walk(typer.main.get_command(app), []):
        assert tuple(path) in covered_help, f"no --help case for {' '.join(path)}"
        assert any(b[:len(path)] == tuple(path) for b in covered_bad), f"no bad-usage case for {' '.join(path)}"


def _help_texts(cmd) -> list[str]:
    texts = [cmd.help or ""]
    texts += [getattr(p, "help", None) or "" for p in cmd.params]
    return texts


def test_help_keeps_bracketed_text_and_drops_decorations(outcomes):
    """rich reads "[sweep]" as a style tag unless escaped: every bracketed bit of every help string must appear
    in the rendered --help. Flags show no "<bool>" type; usage lines name arguments like click does (NAME,
    [NAME], NAME...) rather than "{name}"."""
    import typer
    from rich.markup import render

    from fer_bench.cli.app import app

    def walk(cmd, path):
        yield path, cmd
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, [*path, name])

    checked = 0
    for path, cmd in walk(typer.main.get_command(app), []):
        proc = outcomes.get((*path, "--help")) or _run([*path, "--help"])
        rendered = " ".join(proc.stdout.replace("│", " ").split())
        assert proc.returncode == 0, proc.stderr
        assert "<bool>" not in rendered, f"fer-bench {' '.join(path)} --help shows <bool>"
        usage = next(line for line in proc.stdout.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage
        for text in _help_texts(cmd):
            plain = render(text).plain  # what the source means once rich markup (\\[ escapes) is applied
            for bit in re.findall(r"\[[^\]\n]*\]", plain):
                assert " ".join(bit.split()) in rendered, f"{bit!r} lost from fer-bench {' '.join(path)} --help"
                checked += 1
    assert checked >= 2  # [sweep] and synth:wild[?n=...] at least


def test_tensorflow_noise_is_hidden_unless_verbose(outcomes):
    """The same TF-loading command, quiet by default and with the native lines under --verbose."""
    quiet, loud = outcomes[tuple(VERBOSE[1:])], outcomes[tuple(VERBOSE)]
    for proc in (quiet, loud):
        assert proc.returncode == 2 and "unknown model 'resnet9000'" in proc.stderr, proc.stderr
    assert not [n for n in TF_NOISE if n in quiet.stderr], quiet.stderr
    assert "absl::InitializeLog" in loud.stderr or "oneDNN" in loud.stderr or "cuda" in loud.stderr, loud.stderr


# ------------------------------------------------------------------------------------------------ Ctrl-C


@pytest.mark.parametrize("how", ["KeyboardInterrupt", "Abort", "Exit(130)"])
def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys, how):
    """However the interrupt reaches main() (KeyboardInterrupt outside a command; click's Abort with typer < 0.26;
    a silent Exit(130) return with typer >= 0.26), the user gets the resume line and status 130."""
    import typer

    import fer_bench.cli.app as cli

    def fake_app(**kwargs):
        if how == "KeyboardInterrupt":
            raise KeyboardInterrupt
        if how == "Abort":
            raise typer.Abort()
        return 130

    monkeypatch.setattr(cli, "app", fake_app)
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 130
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == [cli.INTERRUPTED]
    assert "run the same command again" in cli.INTERRUPTED and "resumes from its last finished epoch" in cli.INTERRUPTED


def test_sigint_in_a_real_command(tmp_path):
    """SIGINT (what Ctrl-C sends) while `fer-bench models show` is loading TensorFlow: one line, status 130."""
    import signal
    import time

    proc = subprocess.Popen([EXE, "models", "show", "lenet5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(), stdin=subprocess.DEVNULL)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    where = f"-> {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert proc.returncode == 130, where
    assert "Traceback" not in out + err, where
    from fer_bench.cli.app import INTERRUPTED

    assert [line for line in err.splitlines() if line.strip()] == [INTERRUPTED], where


# ------------------------------------------------------------------------------------------------ output


def test_run_says_what_it_is_about_to_do(outcomes):
    """Before training, `run` prints one line: model, size, dataset, epochs, where the results go."""
    proc = outcomes[tuple(TF_CASES[0][0])]  # run --train NOPE --results NOPE: fails after the plan line
    plan = [line for line in proc.stdout.splitlines() if line.startswith("fer-bench run: ")]
    assert len(plan) == 1, proc.stdout
    for bit in ("training sequential_4conv", "48 px", f"on {NOPE}", "up to 100 epochs", f"-> {NOPE}/runs"):
        assert bit in plan[0], plan[0]


def test_leaderboard_piped_fits_80_columns(tmp_path):
    """The reference leaderboard piped at 80 columns: every line fits, no label is cut, none is read as markup."""
    import pathlib

    ref = pathlib.Path(__file__).resolve().parents[1] / "results" / "reference"
    if not (ref / "runs").is_dir():
        pytest.skip("results/reference is not in this checkout")
    results = tmp_path / "reference"
    shutil.copytree(ref, results)  # the command writes leaderboard.* into the folder
    proc = subprocess.run([EXE, "leaderboard", "--results", str(results)], capture_output=True, text=True,
                          timeout=120, env={**_env(), "COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), "\n".join(x for x in lines if len(x) > 80)
    text = " ".join(proc.stdout.split())
    assert "[strong recipe]" in text and "…" not in text and "ID Acc" in text


def test_evaluate_table_shows_split_and_skipped():
    """evaluate's headline table names the scored split and counts scored and skipped images, within 80 columns."""
    from rich.console import Console

    from fer_bench.cli.evaluate_cmd import _skipped, _summary_table

    skipped = _skipped({"skipped": {"not_an_image": 1}, "unreadable": [{}]}, {"dropped_out_of_label_space": 2})
    assert skipped == {"not_an_image": 1, "label outside the model's classes": 2}
    assert _skipped({"unreadable": [{}, {}]}, {}) == {"unreadable": 2}  # a cache without kind counts
    metrics = {"dataset": "/data/rafdb", "split": "test", "n": 3065, "n_split": 3068, "skipped": skipped,
               **{k: 0.5 for k in ("accuracy", "uar", "precision", "recall", "f1", "top2_accuracy")}}
    import io

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(_summary_table("/runs/abc/model.keras", metrics))
    text = console.export_text()
    assert "…" not in text
    row = next(line for line in text.splitlines() if line.startswith("test"))
    assert row.split()[:3] == ["test", "3065", "3"], row
    assert "split" in text and "scored" in text and "skipped" in text
