"""Leaderboard aggregation: only seeds are averaged; warm-started cycles and other epoch caps are rows of their
own; earlier leaderboard CSVs merge in without overriding run folders."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fer_bench.errors import FerBenchError
from fer_bench.results.leaderboard import build_leaderboard, write_leaderboard


def _run(results, key, acc, seed=0, epochs=32, init_from=None, model="fer_vgg", **settings):
    d = results / "runs" / key
    d.mkdir(parents=True)
    cfg = {"model": model, "res": 48, "weights": "scratch", "train": "data/fer2013", "protocol": "fer-bench",
           "recipe": "strong", "balance": "none", "seed": seed, "epochs": epochs, "config_hash": key, **settings}
    if init_from:
        cfg["init_from"] = init_from
    (d / "config.json").write_text(json.dumps(cfg))
    m = {"accuracy": acc, "uar": acc - 0.05, "precision": acc, "recall": acc - 0.05, "f1": acc - 0.04,
         "n": 100, "role": "in_domain", "dataset": "fer2013"}
    (d / "metrics.json").write_text(json.dumps({"in_domain": m}))


def test_seeds_average_but_cycles_and_epoch_caps_do_not(tmp_path):
    _run(tmp_path, "a", 0.64, seed=0)
    _run(tmp_path, "b", 0.66, seed=1)
    _run(tmp_path, "c", 0.67, seed=0, epochs=30, init_from="/x/cycle1.keras")
    _run(tmp_path, "d", 0.65, seed=2, epochs=64)
    agg, tables = build_leaderboard(tmp_path)
    assert len(agg) == 3
    pair = agg[(agg["epochs"] == "32")].iloc[0]
    assert pair["seeds"] == 2 and abs(pair["accuracy"] - 0.65) < 1e-9
    (title,) = tables  # one test set (in-domain), one balancing
    assert title == "in-domain test · no class weights"
    table = tables[title]
    labels = set(table["model"])
    assert "fer_vgg 48 scratch [strong recipe], 30 ep, from cycle1.keras" in labels
    assert "fer_vgg 48 scratch [strong recipe], 64 ep" in labels
    assert "0.650±0.014" in set(table["Acc"])
    # only columns that have values: no paper columns (the paper has no fer_vgg), no kind column (all ours)
    assert list(table.columns) == ["model", "train", "Acc", "UAR", "P", "R", "F1", "seeds", "run"]
    assert "a; b" in set(table["run"])  # both seeds' run folders behind the averaged row


def test_markdown_rows_link_their_run_records(tmp_path):
    _run(tmp_path, "a", 0.64, seed=0)
    _run(tmp_path, "b", 0.66, seed=1)
    md = (write_leaderboard(tmp_path)["md"]).read_text()
    assert "[a](runs/a/); [b](runs/b/)" in md
    csv = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(csv["runs"]) == ["a;b"]
    # a row merged from an earlier CSV without run folders says so instead of linking nowhere
    legacy = tmp_path / "legacy.csv"
    csv.drop(columns=["runs"]).assign(model="lenet5").to_csv(legacy, index=False)
    new = tmp_path / "new"
    _run(new, "c", 0.5)
    md = (write_leaderboard(new, merge=[legacy])["md"]).read_text()
    assert "no record" in md and "[c](runs/c/)" in md


def test_merge_keeps_earlier_rows_and_prefers_run_folders(tmp_path):
    old = tmp_path / "old"
    _run(old, "a", 0.30, model="lenet5", epochs=5)
    _run(old, "b", 0.50, epochs=32)
    write_leaderboard(old)
    earlier = old / "leaderboard.csv"
    # an old CSV without the newer epochs/init_from columns still merges
    legacy = tmp_path / "legacy.csv"
    pd.read_csv(earlier).drop(columns=["epochs", "init_from"]).assign(model="sequential_simple").to_csv(legacy,
                                                                                                     index=False)
    new = tmp_path / "new"
    _run(new, "c", 0.66, epochs=32)  # same group as old 'b': the run folder wins
    agg, _ = build_leaderboard(new, merge=[earlier, legacy])
    by_model = {(r["model"], r["epochs"]): r["accuracy"] for _, r in agg.iterrows()}
    assert by_model[("fer_vgg", "32")] == pytest.approx(0.66)
    assert by_model[("lenet5", "5")] == pytest.approx(0.30)
    legacy_rows = agg[agg["model"] == "sequential_simple"]
    assert len(legacy_rows) == 2 and set(legacy_rows["epochs"]) == {"-"}
    assert len(agg) == 4
    with pytest.raises(FerBenchError, match="not a leaderboard CSV"):
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        build_leaderboard(new, merge=[bad])


def test_ranking_orders_by_accuracy_and_puts_paper_figure_beside_ours(tmp_path):
    _run(tmp_path, "a", 0.64, seed=0)
    _run(tmp_path, "b", 0.66, seed=1)
    # a paper-protocol run of a model the paper reports (sequential_4conv, 48, scratch, FER2013, conservative)
    d = tmp_path / "runs" / "p"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({
        "model": "sequential_4conv", "res": 48, "weights": "scratch", "train": "data/fer2013", "balance":
        "conservative", "seed": 0, "epochs": 5, "config_hash": "p"}))
    m = {"accuracy": 0.70, "uar": 0.6, "precision": 0.6, "recall": 0.6, "f1": 0.6, "role": "in_domain"}
    (d / "metrics.json").write_text(json.dumps({"in_domain": m}))
    from fer_bench.models.cards import paper_numbers
    from fer_bench.results.leaderboard import ranked_table

    agg, _ = build_leaderboard(tmp_path)
    ranked = ranked_table(agg)
    assert list(ranked["#"]) == [1, 2]
    top, second = ranked.iloc[0], ranked.iloc[1]
    assert top["model"].startswith("sequential_4conv") and top["ID Acc"] == "0.700"
    paper = paper_numbers("sequential_4conv", 48, "fer2013", "conservative", init="scratch")
    assert top["paper ID Acc"] == f"{paper['in_domain']['accuracy']:.2f}"
    assert top["paper BTFER Acc"] == f"{paper['cross_domain']['accuracy']:.2f}"
    assert second["ID Acc"] == "0.650±0.014" and second["seeds"] == 2 and second["paper ID Acc"] == ""
    md = (write_leaderboard(tmp_path)["md"]).read_text()
    assert md.index("## Ranking") < md.index("## Paper reproduction") < md.index("## Per test set")
    assert "### in-domain test · balancing conservative" in md and "### in-domain test · no class weights" in md
    assert max(len(line.split("|")) for line in md.splitlines()) <= 17  # no 36-column table


def test_reproduction_view_lists_only_paper_cells(tmp_path):
    from fer_bench.models.cards import paper_numbers
    from fer_bench.results.leaderboard import readable_tables, reproduction_table

    _run(tmp_path, "a", 0.64, seed=0)  # fer_vgg: not in the paper
    for key, seed, acc in (("p0", 0, 0.60), ("p1", 1, 0.62)):
        d = tmp_path / "runs" / key
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({
            "model": "vgg16", "res": 48, "weights": "imagenet", "train": "/data/RAF-DB", "balance": "simple",
            "seed": seed, "epochs": 50, "config_hash": key}))
        m = {"accuracy": acc, "uar": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "role": "in_domain"}
        x = {**m, "accuracy": 0.40, "role": "cross_domain"}
        (d / "metrics.json").write_text(json.dumps({"in_domain": m, "/data/BTFER": x, "synth:wild": x}))
    agg, _ = build_leaderboard(tmp_path)
    repro = reproduction_table(agg)
    paper = paper_numbers("vgg16", 48, "rafdb", "simple", init="imagenet")
    assert list(repro["test"]) == ["BTFER (/data/BTFER)", "in-domain"]  # synth:wild is not the paper's set
    row = repro[repro["test"] == "in-domain"].iloc[0]
    assert row["ours Acc"] == "0.610±0.014" and row["seeds"] == 2
    assert row["paper Acc"] == f"{paper['in_domain']['accuracy']:.2f}"
    assert row["Δ Acc"] == f"{0.61 - paper['in_domain']['accuracy']:+.3f}"
    xd = repro[repro["test"] != "in-domain"].iloc[0]
    assert xd["Δ Acc"] == f"{0.40 - paper['cross_domain']['accuracy']:+.3f}"
    tables = readable_tables(agg)
    assert "paper Acc" not in tables["cross-domain set synth:wild · balancing simple"].columns
    assert "Δ Acc" in tables["cross-domain set /data/BTFER · balancing simple"].columns


def test_terminal_view_is_the_ranking_with_labels_intact(tmp_path):
    from typer.testing import CliRunner

    from fer_bench.cli.app import app

    _run(tmp_path, "a", 0.64, seed=0)
    _run(tmp_path, "b", 0.61, seed=0, model="lenet5")
    res = CliRunner().invoke(app, ["leaderboard", "--results", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    # rich would swallow "[strong recipe]" as a style tag if the labels were not escaped
    assert "fer_vgg 48 scratch [strong recipe], 32 ep" in res.output
    assert res.output.index("fer_vgg") < res.output.index("lenet5") and "0.640" in res.output


def test_reproduction_uses_table4_for_untranscribed_models(tmp_path):
    from fer_bench.results.leaderboard import reproduction_table

    d = tmp_path / "runs" / "r18"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({
        "model": "resnet18", "res": 48, "weights": "scratch", "train": "/data/rafdb", "balance": "conservative",
        "seed": 0, "epochs": 50, "config_hash": "r18"}))
    m = {"accuracy": 0.70, "uar": 0.6, "precision": 0.6, "recall": 0.6, "f1": 0.6, "role": "in_domain"}
    (d / "metrics.json").write_text(json.dumps({"in_domain": m}))
    agg, _ = build_leaderboard(tmp_path)
    (row,) = reproduction_table(agg).to_dict("records")
    assert row["paper Acc"] == "0.81" and row["Δ Acc"] == "-0.110" and row["paper F1"] == ""
    assert row["source"] == "Table 4 (balancing not stated)"


def test_scaled_batch_and_mixed_precision_runs_are_rows_of_their_own(tmp_path):
    """--scale-batch (batch size and LR) and --precision mixed change the numbers: never averaged as seeds."""
    _run(tmp_path, "a", 0.64, seed=0, batch_size=64)
    _run(tmp_path, "b", 0.66, seed=1)
    _run(tmp_path, "c", 0.60, seed=1, batch_size=256, learning_rate=0.004)
    _run(tmp_path, "d", 0.62, seed=1, precision="mixed")
    _run(tmp_path, "e", 0.69, seed=1, teacher="/m/ens.keras", teacher_weight=0.5)
    # students of two different runs' model.keras: told apart by the teacher's sha256 in run.json
    for key, sha in (("f", "aaaaaaaa1111"), ("g", "bbbbbbbb2222")):
        _run(tmp_path, key, 0.66, seed=1, teacher=f"/runs/{key}/model.keras")
        (tmp_path / "runs" / key / "run.json").write_text(json.dumps({"teacher": {"sha256": sha}}))
    agg, tables = build_leaderboard(tmp_path)
    assert sorted(agg["variant"]) == ["-", "batch 256, lr 0.004", "mixed", "teacher /m/ens.keras x0.5",
                                      "teacher model.keras aaaaaaaa x0.5", "teacher model.keras bbbbbbbb x0.5"]
    assert agg[agg["variant"] == "-"].iloc[0]["seeds"] == 2
    labels = set(next(iter(tables.values()))["model"])
    assert "fer_vgg 48 scratch [strong recipe], 32 ep [batch 256, lr 0.004]" in labels
    assert "fer_vgg 48 scratch [strong recipe], 32 ep [mixed]" in labels


def test_csv_from_before_the_variant_column_is_replaced_by_run_folders(tmp_path):
    old = tmp_path / "old"
    _run(old, "a", 0.50, learning_rate=0.0005)
    write_leaderboard(old)
    legacy = tmp_path / "legacy.csv"
    pd.read_csv(old / "leaderboard.csv").drop(columns=["variant"]).to_csv(legacy, index=False)
    new = tmp_path / "new"
    _run(new, "a", 0.50, learning_rate=0.0005)  # the same run, now labelled with its variant: no duplicate row
    agg, _ = build_leaderboard(new, merge=[legacy])
    assert len(agg) == 1 and agg.iloc[0]["accuracy"] == 0.50 and agg.iloc[0]["variant"] == "lr 0.0005"
    assert agg.iloc[0]["runs"] == "a"  # the run folder's row, not the CSV's


def test_old_csv_row_survives_a_new_variant_run_of_the_same_cell(tmp_path):
    """A bf16 run in the folders is another row: it does not replace an old CSV's plain row of that cell."""
    old = tmp_path / "old"
    _run(old, "a", 0.50)
    write_leaderboard(old)
    legacy = tmp_path / "legacy.csv"
    pd.read_csv(old / "leaderboard.csv").drop(columns=["variant"]).to_csv(legacy, index=False)
    new = tmp_path / "new"
    _run(new, "b", 0.66, precision="bf16")
    agg, _ = build_leaderboard(new, merge=[legacy])
    assert sorted(agg["variant"]) == ["-", "bf16"] and len(agg) == 2


def test_budget_rows_move_to_an_appendix_once_a_longer_run_of_the_cell_exists(tmp_path):
    """5-epoch paper-recipe rows leave the ranking, the tables and the reproduction view when a longer run of the
    same cell (any protocol) exists; schedule recipes (strong: cosine over the cap) keep every cap."""
    from fer_bench.results.leaderboard import reproduction

    paper = {"recipe": "paper", "balance": "conservative"}
    _run(tmp_path, "b5", 0.39, epochs=5, model="sequential_4conv", **paper)
    _run(tmp_path, "p300", 0.62, epochs=300, model="sequential_4conv", protocol="paper", **paper)
    _run(tmp_path, "f300", 0.60, epochs=300, model="sequential_4conv", **paper)
    _run(tmp_path, "s5", 0.37, epochs=5, model="sequential_simple", **paper)  # no longer run: stays
    _run(tmp_path, "c32", 0.65, epochs=32)  # strong recipe: 32 and 64 are two schedules, both stay
    _run(tmp_path, "c64", 0.68, epochs=64)
    agg, tables = build_leaderboard(tmp_path)
    sup = dict(zip(agg["runs"], agg["superseded_by"], strict=True))
    assert sup["b5"] == ("sequential_4conv 48 scratch [paper protocol], 300 ep; "
                         "sequential_4conv 48 scratch, 300 ep")
    assert sup["p300"] == sup["f300"] == sup["s5"] == sup["c32"] == sup["c64"] == ""
    shown = {r for t in tables.values() for r in t["run"]}
    assert shown == {"p300", "f300", "s5", "c32", "c64"}
    assert "b5" not in set(reproduction(tmp_path)["run"])
    md = write_leaderboard(tmp_path)["md"].read_text()
    appendix = md.split("## Appendix: shorter runs replaced by a longer run of the same cell")[1]
    assert "[b5](runs/b5/)" in appendix and md.count("[b5](runs/b5/)") == 1
    assert pd.read_csv(tmp_path / "leaderboard.csv").set_index("runs").loc["b5", "superseded_by"] == sup["b5"]
    # merging that CSV back (as results/reference does) recomputes the mark instead of trusting a stale one
    again, _ = build_leaderboard(tmp_path / "elsewhere", merge=[tmp_path / "leaderboard.csv"])
    assert dict(zip(again["runs"], again["superseded_by"].fillna(""), strict=True))["b5"].startswith("sequential")


def test_supersession_is_decided_per_run_not_per_test_set(tmp_path):
    """A budget run tested in-domain and cross-domain leaves the ranking whole, even when the longer run of its
    cell was tested in-domain only (no half row with empty in-domain columns)."""
    from fer_bench.results.leaderboard import ranked_table

    paper = {"recipe": "paper", "balance": "conservative", "model": "sequential_4conv"}
    _run(tmp_path, "b5", 0.39, epochs=5, **paper)
    m = json.loads((tmp_path / "runs" / "b5" / "metrics.json").read_text())
    m["wild"] = {**m["in_domain"], "role": "cross_domain", "dataset": "wild", "accuracy": 0.3}
    (tmp_path / "runs" / "b5" / "metrics.json").write_text(json.dumps(m))
    _run(tmp_path, "l300", 0.6, epochs=300, **paper)
    agg, tables = build_leaderboard(tmp_path)
    assert set(agg.loc[agg["runs"] == "b5", "superseded_by"]) == {"sequential_4conv 48 scratch, 300 ep"}
    assert list(ranked_table(agg[agg["superseded_by"] == ""])["model"]) == ["sequential_4conv 48 scratch, 300 ep"]
    assert not any("wild" in title for title in tables)


def test_no_finished_runs_and_string_flags_from_a_csv(tmp_path):
    """An empty runs/ folder still writes a leaderboard; "False" read back from a CSV is not an external model."""
    (tmp_path / "runs").mkdir()
    assert "No finished runs" in write_leaderboard(tmp_path)["md"].read_text()
    old = tmp_path / "old"
    paper = {"recipe": "paper", "balance": "conservative", "model": "lenet5"}
    _run(old, "b5", 0.3, epochs=5, **paper)
    write_leaderboard(old)
    csv = pd.read_csv(old / "leaderboard.csv", dtype=str)
    csv["external"] = "False"
    csv.loc[len(csv)] = {**csv.iloc[0].to_dict(), "model": "ext_model", "external": "-", "epochs": "-",
                         "runs": "ext-1"}
    csv.to_csv(tmp_path / "strings.csv", index=False)
    new = tmp_path / "new"
    _run(new, "l50", 0.5, epochs=50, **paper)
    agg, _ = build_leaderboard(new, merge=[tmp_path / "strings.csv"])
    assert agg["external"].map(type).eq(bool).all() and not agg["external"].any()
    assert agg.set_index("runs").loc["b5", "superseded_by"] == "lenet5 48 scratch, 50 ep"


def test_report_questions_keep_superseded_pairs(tmp_path):
    """The report's tables show current rows only, but a research-question pair of one epoch cap (here the 5-epoch
    simple vs conservative runs) stays a comparison after a longer conservative run arrives."""
    from fer_bench.results.report import analyse_rq, collect

    for key, bal, acc in (("s5", "simple", 0.35), ("c5", "conservative", 0.39)):
        _run(tmp_path, key, acc, epochs=5, model="sequential_4conv", recipe="paper", balance=bal)
    _run(tmp_path, "c300", 0.62, epochs=300, model="sequential_4conv", recipe="paper", balance="conservative")
    data = collect(tmp_path)
    assert "c5" not in set(data.agg["runs"]) and "c5" in set(data.all_rows["runs"])
    rq = analyse_rq(data, "rq3")
    assert rq["available"] and {(c["a"], c["b"]) for c in rq["comparisons"]} and len(rq["comparisons"]) == 1
