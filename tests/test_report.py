"""`fer-bench report` and `fer-bench plot` on results folders in the exact format a run writes (config.json,
metrics.json from the real metrics function, history.csv, run.json, predictions/*.csv): RQ sections with computed
answers and significance, graceful degradation with the sweep command, the paper beside ours, the figures."""

from __future__ import annotations

import base64
import json
import re
import zlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fer_bench.errors import FerBenchError
from fer_bench.protocol.metrics import compute_metrics
from fer_bench.results.compare import contingency, holm, mcnemar_exact
from fer_bench.results.report import analyse_rq, collect, write_report

LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
TRAIN = "synth:lab?n=40&test=20"
WILD = "synth:wild?n=5&test=20"
N = 20 * len(LABELS)


def _predictions(rng, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(len(LABELS)), N // len(LABELS))
    pred = np.where(right, y, (y + 1 + rng.integers(0, len(LABELS) - 1, size=N)) % len(LABELS))
    return y, pred


def make_run(results, key, *, model, balance, res=48, weights="scratch", seed=0, train=TRAIN, tests=(WILD,),
             right=None, params=60_000, epochs=15):
    """A run folder as protocol.run writes it; right: {target: boolean vector of correct images}."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    d = results / "runs" / key
    (d / "predictions").mkdir(parents=True)
    cfg = {"model": model, "res": res, "weights": weights, "balance": balance, "train": train, "tests": list(tests),
           "seed": seed, "epochs": epochs, "frozen_epochs": 20, "batch_size": 32, "val_fraction": 0.1,
           "protocol": "fer-bench", "recipe": "strong", "init_from": None, "config_hash": key}
    metrics = {}
    for target in ("in_domain", *tests):
        y, pred = _predictions(rng, right[target])
        probs = np.eye(len(LABELS))[pred] * 0.9 + 0.1 / len(LABELS)
        m = compute_metrics(y, probs, LABELS)
        m.update({"dataset": train if target == "in_domain" else target, "split": "test",
                  "role": "in_domain" if target == "in_domain" else "cross_domain"})
        metrics[target] = m
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in target).strip("_")
        pd.DataFrame({"file": [f"img{i:04d}.png" for i in range(N)], "true": [LABELS[i] for i in y],
                      "predicted": [LABELS[i] for i in pred]}).to_csv(d / "predictions" / f"{name}.csv", index=False)
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "run.json").write_text(json.dumps({"config_hash": key, "params": params, "label_names": LABELS}))
    ep = np.arange(1, epochs + 1)
    pd.DataFrame({"phase": "full", "epoch": ep, "accuracy": 0.2 + 0.04 * ep, "loss": 2 - 0.1 * ep,
                  "val_accuracy": 0.18 + 0.035 * ep, "val_loss": 2 - 0.08 * ep, "lr": 1e-3, "seconds": 1.0}
                 ).to_csv(d / "history.csv", index=False)
    return d


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """lenet5 and sequential_simple with simple and conservative weights (RQ3 answerable, RQ1/RQ2 not);
    lenet5 conservative is right far more often than simple (significant), sequential_simple barely differs."""
    res = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(7)
    base = rng.random(N)
    make_run(res, "l5simple", model="lenet5", balance="simple", params=60_000,
             right={"in_domain": base < 0.35, WILD: base < 0.25})
    make_run(res, "l5cons", model="lenet5", balance="conservative", params=60_000,
             right={"in_domain": base < 0.80, WILD: base < 0.30})
    for seed, shift in ((0, 0.0), (1, 0.02)):
        make_run(res, f"sssimple{seed}", model="sequential_simple", balance="simple", seed=seed, params=700_000,
                 right={"in_domain": base < 0.60 + shift, WILD: base < 0.40})
        make_run(res, f"sscons{seed}", model="sequential_simple", balance="conservative", seed=seed,
                 params=700_000, right={"in_domain": (base < 0.58 + shift) | (base > 0.985), WILD: base < 0.41})
    return res


def test_rq3_answer_is_computed_with_mcnemar_and_holm(results):
    data = collect(results)
    rq = analyse_rq(data, "rq3")
    assert rq["available"] and rq["holm"]  # 2 models x 2 test sets = 4 tests: Holm-corrected
    comps = {(c["unit"].split()[0], c["test"]): c for c in rq["comparisons"]}
    assert len(comps) == 4
    l5 = comps[("lenet5", "in-domain")]
    assert (l5["a"], l5["b"]) == ("conservative weights", "simple weights")
    # the same p from the predictions by hand: the runs share the images' order and labels
    a = pd.read_csv(results / "runs" / "l5cons" / "predictions" / "in_domain.csv")
    b = pd.read_csv(results / "runs" / "l5simple" / "predictions" / "in_domain.csv")
    table = contingency(a["true"] == a["predicted"], b["true"] == b["predicted"])
    assert l5["table"] == table.tolist() and l5["p"] == pytest.approx(mcnemar_exact(table))
    assert l5["p"] < 1e-6 and l5["significant"] is True
    raw = [c["p"] for c in rq["comparisons"]]
    assert [c["p_adj"] for c in rq["comparisons"]] == pytest.approx(holm(raw)[0])
    ss = comps[("sequential_simple", "in-domain")]
    assert ss["significant"] is False and ss["seed"] == 0  # tested on the lowest common seed
    assert ss["seeds_a"] == 2 and ss["sd_a"] > 0          # mean ± sd over the two seeds
    lo, hi = l5["acc_ci"]
    assert lo <= l5["acc_diff"] <= hi and lo > 0
    d_in = np.mean([comps[("lenet5", "in-domain")]["diff"], ss["diff"]]) * 100
    assert rq["sentence"].startswith(f"In-domain, conservative weights beats simple weights by {d_in:.1f} points")
    assert "significant for 1 of 2" in rq["sentence"] and "Holm-corrected" in rq["sentence"]


def test_report_html_is_self_contained_with_figures_and_statements(results, tmp_path):
    paths = write_report(results, tmp_path / "out" / "report.html")
    html = paths["html"].read_text()
    md = paths["md"].read_text()
    assert paths["md"] == tmp_path / "out" / "report.md"
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(imgs) >= 4
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in imgs)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from the network
    assert '<meta name="viewport"' in html and "table.sortable" in html and "@media" in html
    for text in (html, md):
        assert "Ranking" in text and "Paper beside ours" in text
        assert "significant for 1 of 2" in text
        # graceful degradation: RQ1 and RQ2 say which runs they need and the exact sweep
        assert text.count("Not answerable from these runs yet") == 2
    sweeps = re.findall(r"fer-bench sweep [^\n<]+", md)
    assert len(sweeps) == 2
    assert "--res 48,224" in sweeps[0] and "--models sequential_simple,lenet5" in sweeps[0]
    assert f"--test '{WILD}'" in sweeps[0] and f"--train '{TRAIN}'" in sweeps[0] and "--seeds 0,1" in sweeps[0]
    assert "--weights imagenet,vggface,scratch" in sweeps[1] and "--models vgg16" in sweeps[1]
    # synthetic training data: no paper cell matches; the paper's figures for these models are shown for context
    assert "None of these runs matches a cell of the paper" in md and "paper BTFER Acc" in md


def test_paper_reproduction_rows_show_the_delta(tmp_path):
    from fer_bench.models.cards import paper_numbers

    right = np.random.default_rng(1).random(N) < 0.5
    for bal in ("simple", "conservative"):
        make_run(tmp_path, f"s4{bal}", model="sequential_4conv", balance=bal, train="/data/fer2013", tests=(),
                 right={"in_domain": right})
    paths = write_report(tmp_path)
    assert paths["html"] == tmp_path / "report.html"
    md = paths["md"].read_text()
    paper = paper_numbers("sequential_4conv", 48, "fer2013", "conservative", init="scratch")["in_domain"]
    ours = json.loads((tmp_path / "runs" / "s4conservative" / "metrics.json").read_text())["in_domain"]
    assert "2 of our rows match a cell of the paper's Tables 2-3" in md
    assert f"{ours['accuracy'] - paper['accuracy']:+.3f}" in md
    # identical predictions: the balancing pair ties, McNemar p = 1, two tests (no Holm)
    assert "ties with" in md and "significant for 0 of 1" in md and "Holm" not in md.split("## RQ3")[1][:400]


def test_cli_report_and_plot(results, tmp_path):
    from fer_bench.cli.app import app

    runner = CliRunner()
    r = runner.invoke(app, ["report", "--results", str(results), "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "r.html").is_file() and (tmp_path / "r.md").is_file() and "r.html" in r.output
    r = runner.invoke(app, ["plot", "params", "--results", str(results), "--out", str(tmp_path / "p.svg")])
    assert r.exit_code == 0, r.output
    assert "<svg" in (tmp_path / "p.svg").read_text()
    r = runner.invoke(app, ["plot", "rq3", "--results", str(results), "--out", str(tmp_path / "q.png")])
    assert r.exit_code == 0 and (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"
    for args, needle in ((["plot", "rq1", "--out", str(tmp_path / "x.png")], "fer-bench sweep"),
                         (["plot", "pie", "--out", str(tmp_path / "x.png")], "unknown plot kind"),
                         (["plot", "bars", "--out", str(tmp_path / "x.jpg")], ".png or .svg"),
                         (["report", "--out", str(tmp_path / "x.pdf")], "must end in .html")):
        r = runner.invoke(app, [*args, "--results", str(results)])
        assert r.exit_code != 0 and isinstance(r.exception, FerBenchError) and needle in str(r.exception), args
    empty = tmp_path / "empty"
    (empty / "runs").mkdir(parents=True)
    with pytest.raises(FerBenchError, match="no finished runs"):
        write_report(empty)
    with pytest.raises(FerBenchError, match="no runs found"):
        write_report(tmp_path / "nothing")
