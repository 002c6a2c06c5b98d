"""Every notebook: its parameters cell is its documented CLI, it is committed
without outputs, and papermill runs it headlessly (smoke preset)."""
import ast
import dataclasses
import io
import json
import subprocess
import sys
import tokenize
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

from fairnb.config import CONFIGS
from fairnb.paths import runs_dir

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells
              if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: need exactly one parameters cell"
    return tagged[0].source


def execute(name, tmp_path, **parameters):
    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(out),
        parameters={"preset": "smoke", **parameters}, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False, execution_timeout=300,
        store_widget_state=False)
    return out


def latest_metrics(name):
    folder = runs_dir() / name
    newest = max(folder.iterdir(), key=lambda p: p.stat().st_mtime)
    return newest, json.loads((newest / "metrics.json").read_text())


def test_every_notebook_has_a_config():
    assert ALL, "no notebooks found"
    assert sorted(p.stem for p in ALL) == sorted(CONFIGS)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_parameters_cell_is_the_documented_cli(path):
    source = parameters_cell(path)
    tree = ast.parse(source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), (
            f"{path.name}: write typed assignments, name: type = literal")
        ast.literal_eval(node.value)  # literals only: papermill can inject
        names.append(node.target.id)
    assert names == CONFIGS[path.stem].parameter_names()
    # the cell's values are the config's defaults (a sweep builds configs
    # without the notebook and must resolve the same parameters)
    defaults = {f.name: f.default for f in dataclasses.fields(
        CONFIGS[path.stem])}
    for node in tree.body:
        assert ast.literal_eval(node.value) == defaults[node.target.id], (
            f"{path.name}: {node.target.id} differs from its config default")
    # papermill --help-notebook must see every parameter with its help
    inferred = pm.inspect_notebook(str(path))
    assert list(inferred) == names
    assert all(p["help"] for p in inferred.values())
    comments = {t.start[0] for t in tokenize.generate_tokens(
        io.StringIO(source).readline) if t.type == tokenize.COMMENT}
    for node in tree.body:
        assert node.lineno in comments, (
            f"{path.name}: parameter {node.target.id} has no help "
            "comment")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_the_readme_table_lists_every_parameter(path):
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    [row] = [line for line in readme.splitlines()
             if line.startswith(f"| `{path.name}` |")]
    listed = row.split(" | ")[2]
    missing = [n for n in CONFIGS[path.stem].parameter_names()
               if f"`{n}`" not in listed]
    assert not missing, f"README row of {path.name} lacks {missing}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells
               if c.cell_type == "code")
    first = nb.cells[0].source
    assert first.startswith(f"# {path.stem[:2]} · ")
    for word in ("**Inputs**", "**Outputs**", "**Runtime**"):
        assert word in first
    sources = "\n".join(c.source for c in nb.cells)
    assert "## Summary" in sources and "## Exercises" in sources


def test_01_runs_on_the_embedded_default(tmp_path):
    nb = execute("01_explore_data", tmp_path)
    run, metrics = latest_metrics("01_explore_data")
    n = metrics["n_train"] + metrics["n_val"] + metrics["n_test"]
    assert n == 300
    assert metrics["count_test_race_black"] > 0
    races = ("asian", "black", "white")
    assert sum(metrics[f"count_test_race_{g}"] for g in races) + metrics.get(
        "count_test_race_unknown", 0) == metrics["n_test"]
    assert 0 <= metrics["prevalence_train_gender_female"] <= 1
    assert "count_val_maritalstatus_legally_separated" in metrics
    figures = {p.name for p in (run / "figures").iterdir()}
    assert {"group_counts_race.html", "note_lengths.html",
            "examples_race.html", "plotly.min.js"} <= figures
    assert (run / "group_counts.csv").is_file()
    assert "torch loaded: False" in nb.read_text()


def test_01_reads_a_dataset_folder(tmp_path):
    from fairnb.data import make_synthetic

    root = make_synthetic(tmp_path / "fairvlmed", n=60, seed=5)
    execute("01_explore_data", tmp_path, data_dir=str(root), split="test",
            attributes="race,language")
    run, metrics = latest_metrics("01_explore_data")
    assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == 60
    assert not any(k.startswith("count_test_gender") for k in metrics)
    params = json.loads((run / "params.json").read_text())
    assert params["data_dir"] == str(root)


@pytest.mark.parametrize("parameters, words", [
    ({"atribute": "race"}, ["Unknown parameter 'atribute'",
                            "did you mean 'attributes'"]),
    ({"split": "tset"}, ["Bad value for 'split'", "Did you mean 'test'"]),
])
def test_01_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("01_explore_data", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


def test_02_summarizes_and_03_picks_the_summaries_up(tmp_path):
    import pandas as pd

    from fairnb.notes import count_tokens
    from fairnb.sources import find_summaries

    nb = execute("02_summarize_notes", tmp_path)
    assert "torch loaded: False" in nb.read_text()
    run, metrics = latest_metrics("02_summarize_notes")
    csv = run / "extractive_summarized_notes.csv"
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["File Name", "Original Note",
                                   "Summarized Note"]
    assert len(table) == 300 and table["File Name"].is_unique
    summaries = table["Summarized Note"].tolist()
    assert max(map(len, summaries)) <= 180 and min(map(len, summaries)) > 0
    assert count_tokens(summaries).max() <= 77
    assert metrics["share_within_limits"] == 1.0
    assert metrics["diagnosis_kept"] == 1.0
    info = json.loads((run / "summaries.json").read_text())
    assert info["complete"] and info["csv"] == str(csv)
    assert find_summaries("", info["dataset_root"]) == str(csv)
    nb = execute("03_fairclip", tmp_path, method="clip", epochs=1)
    assert f"summaries: {csv}" in nb.read_text()
    # the run records the texts it read, and a probe of it reads them too
    from fairnb.sources import open_run_dataset
    run03, _ = latest_metrics("03_fairclip")
    record = json.loads((run03 / "data.json").read_text())
    assert record == {"root": info["dataset_root"], "summaries": str(csv),
                      "conditions": {"train": "source", "val": "source",
                                     "test": "source"}}
    assert str(open_run_dataset(run03).summary_source) == str(csv)


def test_02_resumes_into_the_dataset_folder(tmp_path):
    from fairnb.data import make_synthetic
    from fairnb.sources import find_summaries

    root = make_synthetic(tmp_path / "fairvlmed", n=60, seed=5)
    execute("02_summarize_notes", tmp_path, data_dir=str(root), limit=20,
            output="dataset")
    run, metrics = latest_metrics("02_summarize_notes")
    csv = root / "extractive_summarized_notes.csv"
    assert metrics["n_new"] == 20 and len(csv.read_text().splitlines()) == 21
    assert not json.loads((run / "summaries.json").read_text())["complete"]
    assert find_summaries("", root) == "auto"  # a partial CSV is not used
    execute("02_summarize_notes", tmp_path, data_dir=str(root),
            output="dataset")
    run, metrics = latest_metrics("02_summarize_notes")
    assert (metrics["n_resumed"], metrics["n_new"]) == (20, 40)
    assert find_summaries("", root) == str(csv)


def test_02_an_empty_note_gets_the_placeholder_and_03_trains_on_it(
        tmp_path, monkeypatch):
    from fairnb.data import make_synthetic
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    root = make_synthetic(tmp_path / "fairvlmed", n=60, seed=5)
    victim = sorted((root / "Training").glob("data_*.npz"))[0]
    with np.load(victim) as z:
        fields = {k: z[k] for k in z.files}
    fields["note"] = np.array("  ")
    np.savez(victim, **fields)
    out = execute("02_summarize_notes", tmp_path, data_dir=str(root),
                  output="dataset").read_text()
    assert f"empty notes: {victim.name}" in out
    run, metrics = latest_metrics("02_summarize_notes")
    assert metrics["n_empty_notes"] == 1
    execute("03_fairclip", tmp_path, data_dir=str(root), epochs=1,
            batch_size=16)
    run, metrics = latest_metrics("03_fairclip")
    assert 0 <= metrics["auc"] <= 1


def test_02_summarizes_a_folder_with_only_training(tmp_path, monkeypatch):
    import shutil

    from fairnb.data import make_synthetic
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    root = make_synthetic(tmp_path / "fairvlmed", n=40, seed=5)
    for folder in ("Validation", "Test"):
        shutil.rmtree(root / folder)
    execute("02_summarize_notes", tmp_path, data_dir=str(root),
            splits="train")
    run, metrics = latest_metrics("02_summarize_notes")
    info = json.loads((run / "summaries.json").read_text())
    assert not info["complete"]  # Training only: not every split
    csv = pd.read_csv(info["csv"], dtype=str, keep_default_na=False)
    assert len(csv) == len(list((root / "Training").glob("*.npz")))


@pytest.mark.parametrize("parameters, words", [
    ({"summarizer": "gpt4"}, ["Bad value for 'summarizer'",
                              "extractive, transformers, openai"]),
    ({"summarizer": "openai"}, ["needs base_url and model_name",
                                "OPENAI_API_KEY"]),
    ({"api_key": "sk-x"}, ["Unknown parameter 'api_key'"]),
])
def test_02_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("02_summarize_notes", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


@pytest.mark.parametrize("attribute", ["race", "gender", "ethnicity",
                                       "language"])
def test_03_trains_and_evaluates_every_paper_attribute(tmp_path, attribute):
    keep = "both" if attribute == "race" else "none"  # smoke's default
    out = execute("03_fairclip", tmp_path, attribute=attribute,
                  **({"keep": keep} if keep == "both" else {}))
    run, metrics = latest_metrics("03_fairclip")
    # the live curves are one figure updated in place, not one per epoch
    nb = nbformat.read(out, as_version=4)
    [cell] = [c for c in nb.cells if "fnb.LiveCurves()" in c.source]
    plots = [o for o in cell.outputs
             if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(plots) == 1
    assert len(plots[0]["data"]["application/vnd.plotly.v1+json"][
        "data"]) >= 2  # the traces of both epochs' curves
    params = json.loads((run / "params.json").read_text())
    assert params["attribute"] == attribute and params["epochs"] == 2
    for a in ("race", "gender", "ethnicity", "language", "maritalstatus"):
        for key in ("es_auc", "es_acc", "dpd", "deodds"):
            assert f"{key}_{a}" in metrics
    assert 0 <= metrics["auc"] <= 1
    epochs = pd.read_csv(run / "epochs.csv")  # selection on Validation
    val = epochs["val_auc"].fillna(-np.inf).to_numpy()
    assert metrics["best_epoch"] == int(np.argmax(val)) + 1
    assert metrics["val_auc"] == pytest.approx(val.max())
    assert "similarity_w1_race_black" in metrics
    assert "auc_gender_female" in metrics
    for name in ("predictions.npz", "by_group.csv", "epochs.csv",
                 "figures/training.html", f"figures/auc_{attribute}.html"):
        assert (run / name).is_file(), name
    if keep == "both":
        assert (run / "checkpoints/last.pt").is_file()
        assert (run / "checkpoints/best.pt").is_file()
    else:
        assert not (run / "checkpoints").exists()


@pytest.mark.parametrize("parameters, words", [
    ({"attribute": "raec"}, ["Bad value for 'attribute'",
                             "race, gender, ethnicity, language",
                             "Did you mean 'race'"]),
    ({"method": "fairclipp"}, ["clip, fairclip, fairclip_plus",
                               "Did you mean 'fairclip'"]),
    ({"atribute": "race"}, ["Unknown parameter 'atribute'"]),
])
def test_03_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("03_fairclip", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


def test_03_official_protocol_writes_the_official_mask_metrics(tmp_path):
    from fairnb.protocols import PROTOCOLS
    from fairnb.sources import open_dataset

    execute("03_fairclip", tmp_path, protocol="official", summaries="none")
    run, metrics = latest_metrics("03_fairclip")
    params = json.loads((run / "params.json").read_text())
    for name, value in PROTOCOLS["official"].items():
        assert params[name] == value, name
    test = open_dataset(preset="smoke", summaries="none").metadata("test")
    paper = ["race", "gender", "ethnicity", "language"]
    known = (test[paper] >= 0).all(axis=1)
    assert 0 < known.sum() < len(test)
    assert metrics["n_test_evaluated"] == known.sum()
    assert metrics["n_test_excluded"] == len(test) - known.sum()
    pred = np.load(run / "predictions.npz")
    assert len(pred["y_true"]) == known.sum()
    assert "selection" not in metrics  # selected on Validation


def test_03_killed_and_rerun_resumes_to_the_same_metrics(
        tmp_path, monkeypatch, kill_after_first_checkpoint):
    from fairnb.runs import list_runs

    # separate group batches: the method keeps queues, which must resume too
    parameters = {"method": "fairclip", "summaries": "none", "epochs": 3,
                  "group_source": "separate"}
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "whole"))
    execute("03_fairclip", tmp_path, **parameters)
    [whole] = list_runs("03_fairclip")

    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "killed"))
    args = [sys.executable, "-m", "papermill", "--cwd", str(NOTEBOOKS),
            str(NOTEBOOKS / "03_fairclip.ipynb"), str(tmp_path / "k.ipynb"),
            "-p", "preset", "smoke"]
    for k, v in parameters.items():
        args += ["-p", k, str(v)]
    folder = tmp_path / "killed" / "03_fairclip"
    kill_after_first_checkpoint(args, folder)  # the kernel and papermill
    [run] = folder.iterdir()
    assert not (run / "metrics.json").exists()
    import torch
    last = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert last["epoch"] >= 1 and last["method_state"]["queues"]
    execute("03_fairclip", tmp_path, **parameters)  # the same command
    assert [p.name for p in folder.iterdir()] == [run.name]
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((run / "metrics.json").read_text())
    assert a == b


@pytest.fixture(scope="module")
def clip_runs(tmp_path_factory):
    """Two 03 runs of their own (seeds 0 and 1), never another test's."""
    from fairnb.runs import list_runs

    tmp = tmp_path_factory.mktemp("clip_runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("FAIRNB_RUNS_DIR", str(tmp / "runs"))
    for seed in (0, 1):
        execute("03_fairclip", tmp, method="clip", epochs=1, seed=seed)
    runs = list_runs("03_fairclip")
    mp.undo()
    return runs


def recompute(path):
    """Key metrics from predictions.npz with scikit-learn and fairlearn."""
    from fairlearn.metrics import (
        demographic_parity_difference,
        equalized_odds_difference,
    )
    from sklearn.metrics import accuracy_score, roc_auc_score

    z = np.load(path)
    y, s = z["y_true"], z["y_score"]
    p = (s >= 0.5).astype(int)
    out = {"auc": roc_auc_score(y, s), "acc": accuracy_score(y, p),
           "n": len(y)}
    for a, names in (("race", ["asian", "black", "white"]),
                     ("gender", ["female", "male"])):
        g = z[f"attr_{a}"]
        known = g >= 0
        out[f"dpd_{a}"] = demographic_parity_difference(
            y[known], p[known], sensitive_features=g[known])
        out[f"deodds_{a}"] = equalized_odds_difference(
            y[known], p[known], sensitive_features=g[known])
        for code, name in enumerate(names):
            m = g == code
            out[f"n_{a}_{name}"] = int(m.sum())
            if len(set(y[m])) == 2:
                out[f"auc_{a}_{name}"] = roc_auc_score(y[m], s[m])
    return out


def test_04_builds_the_dashboard_and_compares_two_runs(tmp_path, clip_runs):
    a, b = clip_runs
    assert json.loads((a / "params.json").read_text())["seed"] == 0
    assert json.loads((b / "params.json").read_text())["seed"] == 1
    nb = execute("04_fairness_dashboard", tmp_path, run=str(a),
                 compare_to=str(b))  # interactive="auto": headless, static
    assert "live controls: False" in nb.read_text()
    assert "torch loaded: False" in nb.read_text()
    out, metrics = latest_metrics("04_fairness_dashboard")
    assert metrics["schema_version"] == 1
    assert metrics["notebook"] == "04_fairness_dashboard"
    assert 0 <= metrics["auc"] <= 1
    assert metrics["auc_ci_low"] <= metrics["auc"] <= metrics["auc_ci_high"]
    # one contract: every key 03 and 04 share means the same, and both
    # equal scikit-learn / fairlearn on predictions.npz
    m03 = json.loads((a / "metrics.json").read_text())
    assert m03["primary"] == metrics["primary"] == "auc"
    shared = sorted(set(m03) & set(metrics) - {"notebook", "primary"})
    assert {"auc", "acc", "n", "es_auc_race", "dpd_language",
            "auc_race_black", "n_gender_female"} <= set(shared)
    for key in shared:
        np.testing.assert_allclose(np.float64(metrics[key] if metrics[key]
                                              is not None else np.nan),
                                   np.float64(m03[key] if m03[key] is not
                                              None else np.nan),
                                   rtol=1e-12, err_msg=key)
    independent = recompute(a / "predictions.npz")
    for key, value in independent.items():
        for m in (m03, metrics):
            got = np.nan if m[key] is None else m[key]
            np.testing.assert_allclose(got, value, rtol=1e-12, err_msg=key)
    assert "es_auc_race" in metrics and "dpd_gender_ci_high" in metrics
    table = (out / "by_group.csv").read_text().splitlines()
    assert table[0] == "attribute,group,metric,value,n,ci_low,ci_high"
    assert (out / "comparison.csv").is_file()
    html = (out / "figures" / "dashboard.html").read_text()
    assert html.count("<section") >= 6
    assert "ES-AUC" in html and "AUC by group" in html
    assert "within noise" in html or "better" in html or "worse" in html
    # post-hoc thresholds, fitted on the run's Validation predictions
    post = pd.read_csv(out / "posthoc.csv")
    assert set(post["constraint"]) == {"demographic_parity",
                                       "equalized_odds", "equal_opportunity"}
    one = post.query("group == 'all' and metric == 'dpd'")["before"]
    np.testing.assert_allclose(one, independent["dpd_race"], atol=1e-12)
    assert "posthoc_equalized_odds_deodds_after" in metrics
    assert "Post-hoc group thresholds" in html


def test_04_forced_controls_do_not_hang_papermill(tmp_path, clip_runs):
    # figures displayed into an ipywidgets Output left nbclient waiting
    # for ever (papermill#723); the FigureWidget controls must not
    run = clip_runs[-1]
    nb = execute("04_fairness_dashboard", tmp_path, run=str(run),
                 interactive="on", n_boot=50)
    text = nb.read_text()
    assert "live controls: True" in text
    assert "application/vnd.jupyter.widget-view+json" in text


def test_04_without_a_03_run_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "empty"))
    with pytest.raises(PapermillExecutionError) as err:
        execute("04_fairness_dashboard", tmp_path)
    assert err.value.ename == "FileNotFoundError"
    assert "Run notebooks/03_fairclip.ipynb first" in err.value.evalue


# -- the bad-input matrix, rows that need a notebook (README: "Bad input") --
def _no_run_folder(tmp_path, name):
    folder = tmp_path / "runs" / name
    return not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize("parameters, ename, words", [
    ({"device": "cuda"}, "ConfigError", ["'device'", "'auto' or 'cpu'"]),
    ({"batch_size": 4}, "ConfigError", ["'batch_size'", "min_per_group"]),
    ({"fair_weight": float("nan")}, "ConfigError",
     ["'fair_weight' must be a finite number"]),
    ({"seed": -1}, "ConfigError", ["'seed'"]),
    ({"pretrained": "nowhere/best.pt"}, "ConfigError",
     ["does not exist", "relative to the repository root"]),
])
def test_03_bad_input_stops_before_any_run_folder(tmp_path, monkeypatch,
                                                  parameters, ename, words):
    import torch
    if parameters.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(PapermillExecutionError) as err:
        execute("03_fairclip", tmp_path, **parameters)
    assert err.value.ename == ename
    for w in words:
        assert w in err.value.evalue
    assert _no_run_folder(tmp_path, "03_fairclip")


def test_03_partial_summaries_name_the_notes_and_the_fix_works(
        tmp_path, monkeypatch):
    from fairnb.data import make_synthetic
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    root = make_synthetic(tmp_path / "data", n=60, seed=3)
    files = sorted(p.stem for p in root.glob("*/data_*.npz"))
    pd.DataFrame({"File Name": files[1:], "Original Note": "x",
                  "Summarized Note": "glaucoma suspect"}).to_csv(
        root / "gpt-4_summarized_notes.csv", index=False)
    with pytest.raises(PapermillExecutionError) as err:
        execute("03_fairclip", tmp_path, data_dir=str(root), epochs=1,
                batch_size=16)
    assert f"has no summary for 1 file(s), e.g. {files[0]}.npz" in \
        err.value.evalue
    assert "-p summaries none" in err.value.evalue
    assert _no_run_folder(tmp_path, "03_fairclip")
    execute("03_fairclip", tmp_path, data_dir=str(root), epochs=1,
            batch_size=16, summaries="none")  # the fix, as written
    [run] = (tmp_path / "runs" / "03_fairclip").iterdir()
    assert (run / "metrics.json").is_file()


def test_03_never_shows_a_raw_note(tmp_path, monkeypatch):
    from fairnb.data import make_synthetic
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    root = make_synthetic(tmp_path / "data", n=60, seed=3)
    phi = ("Seen by Dr. Jane Smith on 03/14/2023, MRN 00123456, call "
           "555-123-4567, jane@example.org. POAG OU.")
    for path in sorted((root / "Training").glob("data_*.npz")):
        with np.load(path) as z:
            fields = {k: z[k] for k in z.files}
        fields["note"] = np.array(phi)
        np.savez(path, **fields)
    out = execute("03_fairclip", tmp_path, data_dir=str(root), epochs=1,
                  batch_size=16, summaries="none").read_text()
    for secret in ("Jane Smith", "03/14/2023", "00123456", "555-123-4567",
                   "jane@example.org"):
        assert secret not in out, secret
    assert "POAG OU" in out  # the clinical content is still shown


def test_01_failing_after_its_run_folder_is_marked_failed(tmp_path,
                                                          monkeypatch):
    from fairnb.data import make_synthetic
    from fairnb.run_status import run_table
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    root = make_synthetic(tmp_path / "data", n=60, seed=3)
    for path in sorted(root.glob("*/data_*.npz")):  # 16-bit images
        with np.load(path) as z:
            fields = {k: z[k] for k in z.files}
        fields["slo_fundus"] = fields["slo_fundus"].astype(np.uint16) * 257
        np.savez(path, **fields)
    with pytest.raises(PapermillExecutionError) as err:
        execute("01_explore_data", tmp_path, data_dir=str(root))
    assert err.value.ename == "DatasetError" and "image >> 8" in \
        err.value.evalue
    table = run_table("01_explore_data", root=tmp_path / "runs")
    assert table["status"].tolist() == ["failed"]
    assert table["error"][0].startswith("DatasetError")


# -- the robust methods and baselines through 03 --
@pytest.mark.parametrize("method, epochs, logged", [
    ("dbpm", 2, "flag_rate_black"), ("groupdro", 1, "q_black"),
    ("adversarial", 1, None), ("resampling", 1, None)])
def test_03_trains_each_baseline_with_its_defaults(tmp_path, monkeypatch,
                                                   method, epochs, logged):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    text = execute("03_fairclip", tmp_path, method=method, epochs=epochs,
                   summaries="none").read_text()
    [run] = (tmp_path / "runs" / "03_fairclip").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["auc"] <= 1 and metrics["n_test_evaluated"] > 0
    epochs_csv = pd.read_csv(run / "epochs.csv")
    assert len(epochs_csv) == epochs
    if logged:  # the method's per-group state, logged and drawn
        assert epochs_csv[logged].notna().all()
        assert (run / "figures" / "method_epochs.html").is_file()
    else:
        assert "keeps no per-group state" in text
    if method == "resampling":
        assert "equal places per" in text


# -- 00 --
@pytest.fixture(scope="module")
def tour_runs(tmp_path_factory, clip_runs):
    """The tour (smoke: CLIP and FairCLIP, seeds 0 and 1, one epoch) on a
    runs folder that holds clip_runs: it trains the two FairCLIP runs.
    Returns the runs folder and the executed notebook's text."""
    import shutil
    tmp = tmp_path_factory.mktemp("tour")
    runs = tmp / "runs"
    for run in clip_runs:
        shutil.copytree(run, runs / "03_fairclip" / run.name)
    mp = pytest.MonkeyPatch()
    mp.setenv("FAIRNB_RUNS_DIR", str(runs))
    try:
        text = execute("00_tour", tmp).read_text()
    finally:
        mp.undo()
    return runs, text


def params_of(path):
    return json.loads((path / "params.json").read_text())


def group_aucs(path, attribute="race"):
    """Test AUC per known group of a run, by scikit-learn."""
    from sklearn.metrics import roc_auc_score

    from fairnb.attributes import code_to_name
    z = np.load(path / "predictions.npz")
    groups = z[f"attr_{attribute}"]
    out = {}
    for code in sorted(set(groups.tolist()) - {-1}):
        m = groups == code
        if len(set(z["y_true"][m].tolist())) == 2:
            out[code_to_name(attribute, code)] = roc_auc_score(
                z["y_true"][m], z["y_score"][m])
    return out


def es_auc(path, attribute):
    """ES-AUC of a run's Test predictions by scikit-learn: the overall
    AUC over one plus the summed distance of its known groups' AUCs."""
    from sklearn.metrics import roc_auc_score
    z = np.load(path / "predictions.npz")
    auc = roc_auc_score(z["y_true"], z["y_score"])
    return auc / (1 + sum(abs(a - auc)
                          for a in group_aucs(path, attribute).values()))


def holm(p):
    """Holm's step-down adjustment, written out."""
    order, m = np.argsort(p), len(p)
    out, running = np.empty(m), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def direction(change, margin):
    if abs(change) <= margin:
        return "same"
    return "higher" if change > 0 else "lower"


def solve(keys, **options):
    """Run each solution and check its answer; the answers by key."""
    import fairnb as fnb
    answers = {}
    for key in keys:
        ns = fnb.exercises.run_solution(key, preset="smoke", **options)
        answers[key] = ns
        if fnb.exercises.exercise(key).checked:
            verdict = fnb.exercises.check(key, ns["answer"], preset="smoke")
            assert verdict.correct is True, (key, verdict)
    return answers


def test_00_tours_the_series_and_its_solutions_check(tour_runs,
                                                    monkeypatch):
    import fairnb as fnb
    runs, text = tour_runs
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    assert "SweepResult(4 runs, 2 already complete, 0 failed" in text
    [tour] = (runs / "00_tour").iterdir()
    diffs = pd.read_csv(tour / "comparison.csv")
    assert set(diffs["method"]) == {"fairclip"}
    assert {"AUC", "ES-AUC"} <= set(diffs["metric"])
    assert set(diffs["n_seeds"]) == {2}
    table = pd.read_csv(tour / "by_group.csv")
    assert set(table["method"]) == {"clip", "fairclip"}
    assert (tour / "figures" / "tour.html").is_file()
    metrics = json.loads((tour / "metrics.json").read_text())
    assert metrics["n_runs"] == 4
    # the solutions' answers are the checker's, and CLIP's lowest group
    # at seed 0 is the one scikit-learn finds
    [clip0] = [p for p in (runs / "03_fairclip").iterdir()
               if (params_of(p)["method"], params_of(p)["seed"])
               == ("clip", 0)]
    aucs = group_aucs(clip0)
    answers = {}
    for key in ("00.1", "00.2", "00.3"):
        answers[key] = fnb.exercises.run_solution(key,
                                                  preset="smoke")["answer"]
        verdict = fnb.exercises.check(key, answers[key], preset="smoke")
        assert verdict.correct is True, (key, verdict)
    assert answers["00.1"] == min(aucs, key=aucs.get)
    other = "yes" if answers["00.2"] == "no" else "no"
    assert fnb.exercises.check("00.2", other, preset="smoke").correct is False


def test_02_03_04_solutions_run_and_check(tour_runs, tmp_path,
                                          monkeypatch):
    """Every 02, 03 and 04 solution runs after the tour's runs (smoke, one
    epoch) and each checked answer is right; 02.1, 03.1 and 04 reuse the
    tour's seed-0 runs, so only 100-character summaries, fair_weight 100,
    the official protocol and FairCLIP+ train."""
    import shutil

    import fairnb as fnb
    runs = tmp_path / "runs"
    shutil.copytree(tour_runs[0] / "03_fairclip", runs / "03_fairclip")
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    before = set((runs / "03_fairclip").iterdir())
    answers = {}
    for key in [k for k in fnb.exercises.EXERCISES
                if k[:2] in ("02", "03", "04")]:
        ns = fnb.exercises.run_solution(key, preset="smoke", epochs=1)
        if fnb.exercises.exercise(key).checked:
            answers[key] = ns["answer"]
            verdict = fnb.exercises.check(key, ns["answer"], preset="smoke")
            assert verdict.correct is True, (key, verdict)
    trained = sorted((params_of(p)["method"], params_of(p)["protocol"],
                      params_of(p)["fair_weight"],
                      Path(params_of(p)["summaries"]).name)
                     for p in set((runs / "03_fairclip").iterdir()) - before)
    assert trained == [("fairclip", "fairnb", 10.0, "extractive_100.csv"),
                       ("fairclip", "fairnb", 100.0, ""),
                       ("fairclip", "official", 1e-6, ""),  # the protocol's
                       ("fairclip_plus", "fairnb", 10.0, "")]
    # oracles by scikit-learn on the runs' predictions
    from sklearn.metrics import roc_auc_score
    seed0 = {(params_of(p)["method"], params_of(p)["fair_weight"],
              params_of(p)["protocol"]): p
             for p in (runs / "03_fairclip").iterdir()
             if params_of(p)["seed"] == 0 and not params_of(p)["summaries"]}
    clip, fair = seed0[("clip", 10.0, "fairnb")], seed0[("fairclip", 10.0,
                                                        "fairnb")]
    a, b = group_aucs(clip), group_aucs(fair)
    change = {g: abs(b[g] - a[g]) for g in a.keys() & b.keys()}
    assert answers["03.1"] == max(change, key=change.get)
    auc = {w: roc_auc_score(*[np.load(seed0[("fairclip", w, "fairnb")]
                                      / "predictions.npz")[k]
                              for k in ("y_true", "y_score")])
           for w in (10.0, 100.0)}
    expected = "same" if abs(auc[100.0] - auc[10.0]) <= 0.005 else (
        "higher" if auc[100.0] > auc[10.0] else "lower")
    assert answers["03.2"] == expected
    assert answers["04.4"] in ("posthoc", "fairclip")


# -- 06 --
def test_06_compares_over_seeds_and_reuses_complete_runs_and_solutions(
        tmp_path, monkeypatch, tour_runs):
    """06 over two seeds and two planted levels, then its solutions: the
    checked answers agree with scipy, Holm by hand and scikit-learn."""
    import shutil

    from sklearn.metrics import roc_auc_score

    runs = tmp_path / "runs"
    # both methods' two seeds exist already (the tour trained them)
    shutil.copytree(tour_runs[0] / "03_fairclip", runs / "03_fairclip")
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    # two levels of the planted disparity: the default (1, where the
    # baseline's runs exist) and twice as strong
    params = dict(methods="clip,fairclip", seeds="0,1", epochs=1,
                  bias_levels="1,2")
    text = execute("06_compare_methods", tmp_path, **params).read_text()
    assert "SweepResult(8 runs, 4 already complete, 0 failed" in text
    assert "With 2 seeds no signed-rank test can reject" in text
    [run] = (runs / "06_compare_methods").iterdir()
    diffs = pd.read_csv(run / "comparison.csv")
    assert set(diffs["method"]) == {"fairclip"}
    assert set(diffs["condition"]) == {"bias=1", "bias=2"}
    assert {"seeds_low", "samples_low", "both_low", "holm_p",
            "verdict"} <= set(diffs.columns)
    assert (diffs["holm_p"] >= diffs["both_p"] - 1e-12).all()
    table = pd.read_csv(run / "table.csv")
    assert set(table["n_seeds"]) == {2}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_runs"] == 8
    assert "diff_fairclip_race_bias_2_es_auc" in metrics
    assert (run / "figures/report.html").is_file()
    assert (run / "commands.sh").read_text().count("papermill") == 8
    chosen = pd.read_csv(run / "selection.csv")  # one setting each here
    assert chosen["n_candidates"].tolist() == [1, 1, 1, 1]
    # the gap table: the baseline's AUC gap per level, as its runs say
    gaps = pd.read_csv(run / "gap_response.csv").set_index("condition")
    frame = pd.DataFrame([{**json.loads((p / "params.json").read_text()),
                           **json.loads((p / "metrics.json").read_text())}
                          for p in (runs / "03_fairclip").iterdir()])
    for level in (1.0, 2.0):
        clip = frame[(frame["method"] == "clip") & (frame["bias"] == level)]
        assert gaps.loc[f"bias={level:g}", "baseline"] == pytest.approx(
            clip["auc_max_disparity_race"].mean())
    # post-hoc thresholds as rows: every method, each constraint
    post = pd.read_csv(run / "posthoc.csv")
    assert set(post["method"]) == {"clip", "fairclip"}
    assert set(post["constraint"]) == {"demographic_parity",
                                       "equalized_odds", "equal_opportunity"}
    assert set(post["metric"]) == {"DPD", "DEOdds", "Acc"}
    # each level trained on its own data: the 03 runs recorded it
    roots = {json.loads((p / "data.json").read_text())["root"].rsplit(
        "-", 1)[-1] for p in (runs / "03_fairclip").iterdir()
        if (p / "data.json").is_file()}
    assert roots == {"seed0", "bias2"}
    # the four copied runs were reused, not trained again (the sweep's
    # skipping and resuming is tested on its own in test_sweep.py)
    assert len(list((runs / "03_fairclip").iterdir())) == 8
    # -- the 06 solutions on these runs --
    from scipy import stats
    before = set((runs / "03_fairclip").iterdir())
    ns = solve(["06.1", "06.3", "06.4", "06.5"])
    assert set((runs / "03_fairclip").iterdir()) == before
    assert ns["06.1"]["answer"] == "no"  # and it trained nothing
    # 06.3: each AUC row's seed interval is the t interval of the runs'
    # own per-seed differences; which interval is wider follows
    by = {(params_of(p)["method"], params_of(p)["seed"],
           params_of(p)["bias"]): json.loads((p / "metrics.json")
                                             .read_text())
          for p in before}
    auc = diffs[diffs["metric"] == "AUC"].set_index("condition")
    seeds_width = 0.0
    for level in (1.0, 2.0):
        d = [by[("fairclip", s, level)]["auc"] - by[("clip", s, level)]["auc"]
             for s in (0, 1)]
        width = 2 * stats.t.ppf(0.975, 1) * np.std(d, ddof=1) / np.sqrt(2)
        row = auc.loc[f"bias={level:g}"]
        assert row["seeds_high"] - row["seeds_low"] == pytest.approx(width)
        seeds_width += width
    assert ns["06.3"]["answer"] == ("seeds" if seeds_width > (
        auc["samples_high"] - auc["samples_low"]).sum() else "samples")
    # 06.4: Holm by hand
    adjusted = holm(diffs["both_p"].to_numpy())
    np.testing.assert_allclose(diffs["holm_p"], adjusted)
    assert ns["06.4"]["answer"] == int(((diffs["both_p"] < 0.05)
                                        & (adjusted >= 0.05)).sum())
    # 06.5: the baseline's gap by scikit-learn, per level
    gap = {}
    for level in (1.0, 2.0):
        values = []
        for p in before:
            if (params_of(p)["method"], params_of(p)["bias"]) == ("clip",
                                                                 level):
                z = np.load(p / "predictions.npz")
                g = group_aucs(p).values()
                values.append((max(g) - min(g)) / roc_auc_score(
                    z["y_true"], z["y_score"]))
        gap[level] = np.mean(values)
    assert ns["06.5"]["answer"] == direction(gap[2.0] - gap[1.0], 0.005)
    # 06.2 trains seeds 2 - 5 of both methods at the default level only
    table = solve(["06.2"])["06.2"]["table"]
    new = set((runs / "03_fairclip").iterdir()) - before
    assert sorted((params_of(p)["method"], params_of(p)["seed"],
                   params_of(p)["bias"]) for p in new) == [
        (m, s, 1.0) for m in ("clip", "fairclip") for s in (2, 3, 4, 5)]
    assert sorted(set(table["seeds"])) == [2, 3, 4, 5, 6]
    by.update({(params_of(p)["method"], params_of(p)["seed"], 1.0):
               json.loads((p / "metrics.json").read_text()) for p in new})
    d = [by[("fairclip", s, 1.0)]["auc"] - by[("clip", s, 1.0)]["auc"]
         for s in range(6)]
    [six] = table[(table["seeds"] == 6) & (table["metric"] == "AUC")][
        "seed_width"]
    assert six == pytest.approx(2 * stats.t.ppf(0.975, 5)
                                * np.std(d, ddof=1) / np.sqrt(6))


@pytest.mark.parametrize("parameters, words", [
    ({"baseline": "dro"}, ["baseline 'dro' is not one of methods"]),
    ({"methods": "clip,fairclipp"}, ["Bad value in 'methods'",
                                     "Did you mean 'fairclip'"]),
    ({"seeds": "0,0"}, ["seeds must be distinct"]),
    ({"executor": "k8s"}, ["Bad value for 'executor'", "local, slurm"]),
    ({"grid_options": "fair_wieght=1|10"}, ["grid_options names "
                                            "'fair_wieght'"]),
    ({"selection": "test"}, ["Bad value for 'selection'", "dto"]),
    ({"methods": "clip,multifair", "modalities": "slo+oct"},
     ["modalities='slo+oct' reads the FairVision data", "remove clip"]),
])
def test_06_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("06_compare_methods", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


# -- 07 --
def test_07_trains_multifair_beside_its_baselines_and_04_reads_it(
        tmp_path, monkeypatch):
    """07 with its baselines, 04 on its MultiFair run, then its solutions:
    each trains its variants here, and the checked answers agree with the
    runs' epochs.csv and scikit-learn."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    text = execute("07_multifair", tmp_path, epochs=1,
                   summaries="none").read_text()
    folders = {json.loads((p / "params.json").read_text())["method"]: p
               for p in (runs / "07_multifair").iterdir()}
    assert set(folders) == {"multifair", "fusion", "slo_only", "note_only"}
    for method, folder in folders.items():
        params = json.loads((folder / "params.json").read_text())
        assert params["baselines"] == "none" and params["attribute"] == \
            "gender"
        metrics = json.loads((folder / "metrics.json").read_text())
        assert 0 <= metrics["auc"] <= 1 and metrics["trainable_parameters"]
        for name in ("predictions.npz", "predictions_val.npz",
                     "by_group.csv", "epochs.csv", "data.json"):
            assert (folder / name).is_file(), (method, name)
    epochs = pd.read_csv(folders["multifair"] / "epochs.csv")
    for column in ("B_slo", "B_note", "factor_slo", "r_note_female",
                   "priority_rate"):
        assert epochs[column].notna().all()
    assert (epochs["factor_slo"] >= 0).all()
    assert (folders["multifair"] / "figures/modulation.html").is_file()
    assert "B_slo" not in pd.read_csv(folders["slo_only"] / "epochs.csv")
    assert "note_only" in text and "ES-AUC" in text
    # the run folder is a standard one: 04 opens it
    execute("04_fairness_dashboard", tmp_path, run=str(folders["multifair"]),
            attribute="gender", posthoc="")
    [dash] = (runs / "04_fairness_dashboard").iterdir()
    assert (dash / "by_group.csv").is_file()
    # -- the 07 solutions: variants of this MultiFair run, trained here --
    before = set((runs / "07_multifair").iterdir())
    ns = solve(["07.1", "07.2", "07.3", "07.4"], epochs=1)
    new = {(p["method"], p["attribute"], p["modulation"], p["direction"],
            p["fair_loss"], p["summaries"] != "none"): path
           for path in set((runs / "07_multifair").iterdir()) - before
           for p in [params_of(path)]}
    base = ("multifair", "gender", "dual", "off", "constant", False)
    assert set(new) == {
        ("multifair", "gender", "dual", "off", "constant", True),  # 07.1
        ("multifair", "gender", "modality", "off", "constant", False),
        ("multifair", "gender", "group", "off", "constant", False),
        ("multifair", "gender", "dual", "differentiable", "differentiable",
         False),
        ("multifair", "race", "dual", "off", "constant", False),
        ("fusion", "race", "dual", "off", "constant", False)}
    new[base] = folders["multifair"]

    def mean(key, column):
        return pd.read_csv(new[key] / "epochs.csv")[column].mean()
    summarized = base[:5] + (True,)
    assert ns["07.1"]["answer"] == direction(
        mean(base, "B_note") - mean(summarized, "B_note"), 0.01)
    es = {m: es_auc(new[(base[0], base[1], m) + base[3:]], "gender")
          for m in ("dual", "modality", "group")}
    assert ns["07.2"]["answer"] == max(
        ("modality", "group"), key=lambda m: abs(es[m] - es["dual"]))
    active = base[:3] + ("differentiable", "differentiable", False)
    assert ns["07.3"]["answer"] == direction(
        mean(active, "priority_rate") - mean(base, "priority_rate"), 0.02)
    last = pd.read_csv(new[("multifair", "race") + base[2:]]
                       / "epochs.csv").iloc[-1]
    factors = {c: last[c] for c in last.index if c.startswith("r_slo_")}
    assert set(factors) == {"r_slo_asian", "r_slo_black", "r_slo_white"}
    assert ns["07.4"]["answer"] == sum(v > 1 for v in factors.values())


def test_07_on_slo_and_oct_and_06_reuses_its_runs(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    # 07 itself with the OCT pair: MultiFair and plain fusion, seed 0
    execute("07_multifair", tmp_path, modalities="slo+oct",
            baselines="fusion", attribute="race", epochs=1)
    first = {p.name for p in (runs / "07_multifair").iterdir()}
    assert len(first) == 2
    # 06 with the same settings reuses them and trains seed 1 only
    text = execute("06_compare_methods", tmp_path, methods="multifair,fusion",
                   baseline="fusion", seeds="0,1", epochs=1,
                   modalities="slo+oct", posthoc="").read_text()
    assert "SweepResult(4 runs, 2 already complete, 0 failed" in text
    params = [json.loads((p / "params.json").read_text())
              for p in (runs / "07_multifair").iterdir()]
    assert {(p["method"], p["seed"], p["modalities"]) for p in params} == {
        (m, s, "slo+oct") for m in ("multifair", "fusion") for s in (0, 1)}
    [run] = (runs / "06_compare_methods").iterdir()
    diffs = pd.read_csv(run / "comparison.csv")
    assert set(diffs["method"]) == {"multifair"}
    assert set(pd.read_csv(run / "table.csv")["n_seeds"]) == {2}
    for p in (runs / "07_multifair").iterdir():  # OCT columns logged
        method = json.loads((p / "params.json").read_text())["method"]
        columns = pd.read_csv(p / "epochs.csv").columns
        assert ("B_oct" in columns) == (method == "multifair")
        assert ("r_oct_black" in columns) == (method == "multifair")


@pytest.mark.parametrize("parameters, words", [
    ({"method": "oct_only"}, ["method='oct_only' needs modalities=slo+oct"]),
    ({"baselines": "fusion,clip"}, ["Bad value in 'baselines': 'clip'"]),
])
def test_07_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("07_multifair", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


# -- 05 --
def test_05_probes_a_03_run_and_04_opens_the_probe(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    execute("03_fairclip", tmp_path, method="clip", epochs=1, keep="best",
            summaries="none")
    text = execute("05_linear_probe", tmp_path).read_text()
    assert "race-clip-seed0 (fairnb-tiny, selected epoch)" in text
    [run] = (tmp_path / "runs" / "05_linear_probe").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["notebook"] == "05_linear_probe"
    assert 0 <= metrics["auc"] <= 1 and "zero_shot_auc" in metrics
    assert 0 <= metrics["attribute_auc_race"] <= 1
    table = pd.read_csv(run / "table2.csv")
    assert table["attribute"].tolist() == ["race", "gender", "ethnicity",
                                           "language"]
    assert {"DPD", "DEOdds", "AUC", "ES-AUC"} <= set(table.columns)
    assert (run / "zero_shot_table2.csv").is_file()
    # the probe's AUC is scikit-learn's on its own predictions
    from sklearn.metrics import roc_auc_score
    z = np.load(run / "predictions.npz")
    assert metrics["auc"] == pytest.approx(roc_auc_score(z["y_true"],
                                                         z["y_score"]))
    dash = execute("04_fairness_dashboard", tmp_path, run=run.name,
                   n_boot=50).read_text()
    assert run.name in dash


def test_05_solutions_run(tmp_path, monkeypatch):
    """Every 05 solution runs (smoke, one epoch): it trains the CLIP and
    FairCLIP runs that keep their weights once, and the later solutions
    reuse them."""
    import fairnb as fnb
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    keys = [k for k in fnb.exercises.EXERCISES if k.startswith("05.")]
    assert keys == ["05.1", "05.2", "05.3", "05.4"]
    tables = {k: fnb.exercises.run_solution(k, preset="smoke", epochs=1)
              for k in keys}
    assert len(list((tmp_path / "runs" / "03_fairclip").iterdir())) == 2
    signal = tables["05.1"]["table"]
    assert {"race", "gender"} <= set(signal.index)
    assert signal[["clip", "fairclip"]].stack().between(0, 1).all()
    gain = tables["05.2"]["frame"]
    np.testing.assert_allclose(gain["gain"],
                               gain["multimodal"] - gain["image"])
    assert set(tables["05.3"]["frame"].columns) == {"logistic", "mae"}


def test_05_probes_a_blip2_folder(tmp_path, monkeypatch, tiny_blip2):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    execute("05_linear_probe", tmp_path, backbone_family="blip2",
            pretrained=str(tiny_blip2), features="multimodal", probe="mae")
    [run] = (tmp_path / "runs" / "05_linear_probe").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["auc"] <= 1 and "zero_shot_auc" not in metrics
    assert metrics["probe_choice"] >= 1  # the Validation-selected epoch


@pytest.mark.parametrize("parameters, words", [
    ({"backbone_family": "blip2"}, ["needs pretrained: a local BLIP-2"]),
    ({"pretrained": "openai"}, ["pretrained needs model"]),
    ({"probe": "svm"}, ["Bad value for 'probe'", "logistic, mae"]),
])
def test_05_rejects_bad_parameters_by_name(tmp_path, parameters, words):
    with pytest.raises(PapermillExecutionError) as err:
        execute("05_linear_probe", tmp_path, **parameters)
    assert err.value.ename == "ConfigError"
    for w in words:
        assert w in err.value.evalue


def test_05_without_a_kept_checkpoint_names_the_fix(tmp_path, monkeypatch):
    from fairnb.config import FairCLIPConfig
    from fairnb.runs import start_run
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    done = start_run(FairCLIPConfig.create(preset="smoke"), key="kept-none")
    done.write_metrics({"auc": 0.6}, primary="auc")  # keep=none: no .pt
    with pytest.raises(PapermillExecutionError) as err:
        execute("05_linear_probe", tmp_path)
    assert "-p keep best" in err.value.evalue


# -- 08 --
def test_08_reports_in_and_out_of_distribution_and_04_06_read_it(
        tmp_path, monkeypatch):
    from fairnb.predictions import Predictions
    runs = tmp_path / "runs"
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(runs))
    text = execute("08_dualfairvl", tmp_path, epochs=1, backbone_epochs=1,
                   ood_conditions="device_b,low_contrast").read_text()
    assert "backbone unchanged by training: True" in text
    assert "(1 CLIP epochs, Validation AUC" in text  # trained, or cached
    [folder] = (runs / "08_dualfairvl").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0 <= metrics["auc"] <= 1 and metrics["frozen_parameters"] > \
        10 * metrics["trainable_parameters"] > 0
    for name in ("predictions.npz", "predictions_val.npz", "by_group.csv",
                 "epochs.csv", "steps.csv", "anchors.csv", "conditions.csv",
                 "data.json", "predictions_device_b.npz",
                 "predictions_low_contrast.npz",
                 "attribute_probe.csv", "figures/anchors.html",
                 "figures/loss_terms.html", "figures/conditions_race.html"):
        assert (folder / name).is_file(), name
    table = pd.read_csv(folder / "conditions.csv")
    assert set(table["model"]) == {"dualfairvl", "backbone (zero-shot)"}
    conditions = table[table["model"] == "dualfairvl"].set_index("condition")
    assert list(conditions.index) == ["source", "device_b", "low_contrast"]
    assert conditions.loc["source", "ΔAUC"] == 0
    probe = pd.read_csv(folder / "attribute_probe.csv")
    assert list(probe["feature"]) == ["v0", "v_y", "v_s"]
    assert probe["auc"].between(0, 1).all()
    ind = Predictions.load(folder / "predictions.npz")
    ood = Predictions.load(folder / "predictions_device_b.npz")
    assert (ind.ids == ood.ids).all() and (ind.y_true == ood.y_true).all()
    assert not np.allclose(ind.y_score, ood.y_score)
    assert metrics["shift_device_b_auc"] == pytest.approx(
        conditions.loc["device_b", "AUC"])
    assert "orth_loss" in pd.read_csv(folder / "steps.csv")
    # a standard run folder: 04 opens it
    execute("04_fairness_dashboard", tmp_path, run=str(folder), posthoc="")
    assert (next((runs / "04_fairness_dashboard").iterdir())
            / "by_group.csv").is_file()
    # 06: dualfairvl (08) against clip (03), in and out of distribution:
    # each model trained once, its Test scored under every condition; the
    # 08 run above is that cell already (the conditions less its own)
    text = execute("06_compare_methods", tmp_path, methods="clip,dualfairvl",
                   seeds="0", epochs=1,
                   test_conditions="source,device_b,low_contrast",
                   posthoc="").read_text()
    assert "SweepResult(2 runs, 1 already complete, 0 failed" in text
    [cmp] = (runs / "06_compare_methods").iterdir()
    diffs = pd.read_csv(cmp / "comparison.csv")
    assert set(diffs["method"]) == {"dualfairvl"}
    assert set(diffs["condition"]) == {"test_condition=source",
                                       "test_condition=device_b",
                                       "test_condition=low_contrast"}
    seeds = pd.read_csv(cmp / "table.csv")
    auc = seeds[(seeds["metric"] == "AUC") & (seeds["method"] == "dualfairvl")
                ].set_index("condition")["mean"]
    assert auc["test_condition=device_b"] == pytest.approx(
        metrics["shift_device_b_auc"])
    assert auc["test_condition=source"] == pytest.approx(metrics["auc"])
    [clip] = [p for p in (runs / "03_fairclip").iterdir() if json.loads(
        (p / "params.json").read_text())["ood_conditions"]
        == "device_b,low_contrast"]
    assert Predictions.load(clip / "predictions_device_b.npz").ids.tolist() \
        == ind.ids.tolist()
    # -- the 08 solutions: variants of this run, as papermill runs of 08 --
    before = set((runs / "08_dualfairvl").iterdir())
    ns = solve(["08.1", "08.2", "08.3", "08.4"], epochs=1)
    new = {(p["sen_weight"], p["train_condition"], p["model"],
            p["prompt_depth"]): path
           for path in set((runs / "08_dualfairvl").iterdir()) - before
           for p in [params_of(path)]}
    assert set(new) == {(0.0, "source", "fairnb-tiny", 0),
                        (0.5, "device_b", "fairnb-tiny", 0),
                        (0.5, "source", "fairnb-tiny-vit", 1),
                        (0.5, "source", "fairnb-tiny-vit", 4)}
    table = ns["08.1"]["table"]
    assert list(table.index) == ["source", "device_b", "low_contrast"]
    assert table.loc["source", "DualFairVL"] == pytest.approx(
        es_auc(folder, "race"))
    assert table.loc["source", "no fairness terms"] == pytest.approx(
        es_auc(new[(0.0, "source", "fairnb-tiny", 0)], "race"))
    shifted = new[(0.5, "device_b", "fairnb-tiny", 0)]
    assert params_of(shifted)["test_condition"] == "source"
    from sklearn.metrics import roc_auc_score
    z = np.load(shifted / "predictions.npz")  # its Test, under source
    rows = pd.DataFrame(ns["08.2"]["rows"])
    assert rows.loc[("source", "AUC"), "trained on device_b"] == \
        pytest.approx(roc_auc_score(z["y_true"], z["y_score"]))
    depth = pd.DataFrame(ns["08.3"]["rows"])
    assert depth.loc["trainable", "depth 4"] > depth.loc["trainable",
                                                         "depth 1"]
    # 08.4: each group's AUC lost under low_contrast, by scikit-learn
    import shutil
    low = tmp_path / "low_contrast"
    low.mkdir()
    shutil.copy(folder / "predictions_low_contrast.npz",
                low / "predictions.npz")
    own, shifted = group_aucs(folder), group_aucs(low)
    loss = {g: own[g] - shifted[g] for g in own.keys() & shifted.keys()}
    assert ns["08.4"]["answer"] == max(loss, key=loss.get)


def test_08_rejects_a_bad_condition_by_name(tmp_path):
    with pytest.raises(PapermillExecutionError) as err:
        execute("08_dualfairvl", tmp_path, ood_conditions="device_c")
    assert err.value.ename == "ConfigError"
    assert "Bad value in 'ood_conditions': 'device_c'" in err.value.evalue


@pytest.mark.parametrize("notebook, parameters, words", [
    ("08_dualfairvl", {"test_condition": "blurry"},
     ["Bad value for 'test_condition'", "blur"]),
    ("03_fairclip", {"train_condition": "old_device"},
     ["Bad value for 'train_condition'", "device_b"]),
    ("03_fairclip", {"ood_conditions": "blur,nois"},
     ["Bad value in 'ood_conditions': 'nois'", "Did you mean 'noise'"]),
    ("03_fairclip", {"method": "dualfairvl"},
     ["learns prompts on a frozen backbone", "Run 08_dualfairvl"]),
    ("06_compare_methods", {"test_conditions": "source,source"},
     ["repeats a condition"]),
    ("06_compare_methods", {"methods": "multifair,fusion",
                            "baseline": "fusion",
                            "test_conditions": "device_b"},
     ["two-modality classifiers (multifair, fusion"]),
    ("06_compare_methods", {"grid_options": "test_condition:blur|noise"},
     ["use test_conditions"]),
])
def test_conditions_reject_bad_parameters_by_name(notebook, parameters,
                                                  words):
    """The configs the notebooks build (one notebook above shows the
    error reaches papermill by name)."""
    from fairnb.config import ConfigError
    with pytest.raises(ConfigError) as err:
        CONFIGS[notebook].create(preset="smoke", **parameters)
    for w in words:
        assert w in str(err.value)


# -- python -m fairnb train --
def test_the_script_repeats_a_03_run_from_its_params_json(tmp_path,
                                                          clip_runs):
    source = clip_runs[0]
    done = subprocess.run(
        [sys.executable, "-m", "fairnb", "train", "--config",
         str(source / "params.json"), "--root", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [folder] = (tmp_path / "runs" / "03_fairclip").iterdir()
    assert f"run folder: {folder}" in done.stdout
    assert json.loads((folder / "params.json").read_text()) == json.loads(
        (source / "params.json").read_text())
    a = json.loads((source / "metrics.json").read_text())
    b = json.loads((folder / "metrics.json").read_text())
    assert a == b  # the notebook and the script: the same run
    for name in ("predictions.npz", "predictions_val.npz", "by_group.csv",
                 "epochs.csv", "data.json"):
        assert (folder / name).is_file(), name


def test_the_script_names_a_bad_config(tmp_path):
    bad = tmp_path / "params.json"
    bad.write_text(json.dumps({"method": "fairclipp"}))
    done = subprocess.run([sys.executable, "-m", "fairnb", "train",
                           "--config", str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "Did you mean 'fairclip'" in done.stderr
    done = subprocess.run([sys.executable, "-m", "fairnb", "train",
                           "--config", str(tmp_path / "none.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "a 03 run's params.json" in done.stderr
