"""The exercises' checker judges answers by kind, names the problem of a
malformed one, and the committed solution notebooks are the ones
``python -m fairnb.exercises`` writes. (Every solution runs after its
notebook in tests/notebooks/test_notebooks.py.)"""
import math

import nbformat
import pandas as pd
import pytest
from scipy.stats import chi2_contingency

import fairnb as fnb
from fairnb.exercises import EXERCISES, check, exercise, for_notebook
from fairnb.exercises.core import Exercise, compare
from fairnb.exercises.notebook import solution_notebook, solution_path


def make(kind, tolerance=0.0):
    return Exercise("99.1", "q", "answer = 1", "why", kind=kind,
                    tolerance=tolerance, hint="look again")


@pytest.mark.parametrize("kind, answer, reference, right", [
    ("group", " black ", "Black", True),
    ("group", "White", "Black", False),
    ("choice", "PostHoc", "posthoc", True),
    ("yesno", "Yes", True, True),
    ("yesno", "no", True, False),
    ("yesno", False, False, True),
    ("direction", "falls", "lower", True),
    ("direction", "up", "lower", False),
    ("direction", "unchanged", "same", True),
    ("pair", "language, ethnicity", ("ethnicity", "language"), True),
    ("pair", ["race", "language"], ("ethnicity", "language"), False),
    ("number", "3", 3.0, True),
    ("number", 3.2, 3.0, False),
    ("number", "none", float("nan"), True),  # over the limit: no number
    ("number", float("nan"), None, True),
    ("number", 3, float("nan"), False),
    ("number", "none", 3.0, False),
])
def test_answers_are_judged_by_kind(kind, answer, reference, right):
    verdict = compare(make(kind), answer, reference)
    assert verdict.correct is right and bool(verdict) is right
    assert str(verdict).startswith("Right." if right else "Not yet.")
    if not right:
        assert "look again" in str(verdict)  # the hint, not the answer
        assert str(reference) not in verdict.message


def test_a_number_within_the_tolerance_is_right():
    assert compare(make("number", tolerance=0.05), 0.74, 0.7).correct \
        is True
    assert compare(make("number", tolerance=0.05), 0.76, 0.7).correct \
        is False


@pytest.mark.parametrize("kind, answer, words", [
    ("yesno", "maybe", "Answer yes or no"),
    ("direction", "sideways", "higher, lower or same"),
    ("number", "three", "Answer with a number"),
])
def test_a_malformed_answer_names_the_expected_form(kind, answer, words):
    verdict = compare(make(kind), answer, True)
    assert verdict.correct is False and words in verdict.message


def test_open_exercises_and_missing_runs_say_so(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "empty"))
    verdict = check("01.2", "darker")
    assert verdict.correct is None and "solution('01.2')" in str(verdict)
    verdict = check("03.2", "lower", preset="smoke")  # no 03 run yet
    assert verdict.correct is None
    assert "No complete run of 03_fairclip" in verdict.message
    assert "papermill 03_fairclip.ipynb" in verdict.message


def test_a_run_folder_of_an_older_layout_names_the_fix(tmp_path,
                                                      monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    run = fnb.start_run(fnb.TourConfig.create(preset="smoke"), key="old")
    run.write_csv("by_group.csv", pd.DataFrame(  # no method column yet
        {"attribute": ["race"], "metric": ["auc"], "group": ["Black"],
         "value": [0.6]}))
    run.write_metrics({"n_runs": 4})
    verdict = check("00.1", "Black", preset="smoke")
    assert verdict.correct is None
    assert "KeyError" in verdict.message and "method" in verdict.message
    assert "run 00_tour.ipynb again" in verdict.message


def test_config_of_rebuilds_a_runs_config_and_newest_names_the_fix(
        tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "runs"))
    cfg = fnb.CompareConfig.create(explicit={"seeds", "bias_levels"},
                                   seeds="0,1", bias_levels="0,2",
                                   preset="smoke")
    run = fnb.start_run(cfg, key="cmp")
    run.write_metrics({"n_runs": 8})
    recorded = pd.read_json(run.path / "params.json", typ="series")
    rebuilt = fnb.exercises.runs.config_of(run.path, seeds="0,1,2,3")
    assert rebuilt.seed_list == [0, 1, 2, 3]  # the override
    assert rebuilt.bias_level_list == [0.0, 2.0]  # the recorded value
    assert {k: v for k, v in rebuilt.to_dict().items() if k != "seeds"} \
        == {k: v for k, v in recorded.items() if k != "seeds"}
    with pytest.raises(FileNotFoundError) as err:
        fnb.exercises.runs.newest("06_compare_methods", preset="smoke",
                                  where=lambda p: "1" in p["bias_levels"],
                                  needs="-p bias_levels 0,1,2")
    assert ("(papermill 06_compare_methods.ipynb out.ipynb -p preset smoke "
            "-p bias_levels 0,1,2)") in str(err.value)


def test_a_check_reads_the_session_presets_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRNB_RUNS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("FAIRNB_PRESET", "workshop")
    assert fnb.exercises.default_preset() == "workshop"
    verdict = check("03.2", "lower")
    assert "-p preset workshop" in verdict.message
    monkeypatch.delenv("FAIRNB_PRESET")
    assert "-p preset demo" in check("03.2", "lower").message


def test_an_unknown_exercise_names_the_closest():
    with pytest.raises(ValueError, match="Did you mean '03.1'"):
        exercise("3.1")


def test_solution_shows_the_code_and_the_explanation():
    shown = fnb.exercises.solution("04.2")._repr_markdown_()
    ex = exercise("04.2")
    assert ex.question in shown and ex.code in shown
    assert ex.explanation in shown


@pytest.mark.parametrize("number", sorted(
    {e.notebook_number for e in EXERCISES.values()}))
def test_committed_solution_notebooks_are_generated_from_the_source(number):
    committed = nbformat.read(solution_path(number), as_version=4)
    generated = solution_notebook(number)
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in generated.cells], (
        "run `make solutions` (python -m fairnb.exercises)")
    assert all(not c.get("outputs") for c in committed.cells
               if c.cell_type == "code")
    [params] = [c for c in committed.cells
                if "parameters" in c.metadata.get("tags", [])]
    assert params.source.startswith('preset: str = "demo"')
    sources = "\n".join(c.source for c in committed.cells)
    for ex in for_notebook(number):  # every checked one ends with check
        assert (f'fnb.exercises.check("{ex.key}", answer'
                in sources) == ex.checked


def test_every_notebook_with_solutions_lists_its_exercises():
    for number in {e.notebook_number for e in EXERCISES.values()}:
        stem = fnb.exercises.NOTEBOOKS[number]
        nb = nbformat.read(solution_path(number).parents[1]
                           / f"{stem}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        exercises = for_notebook(number)
        assert "fnb.exercises.solution" in text, stem
        assert ("fnb.exercises.check" in text) == any(
            e.checked for e in exercises), stem
        for i, ex in enumerate(exercises, 1):  # the same questions
            assert f"\n{i}. {ex.question}" in text, (stem, ex.key)
        assert f"\n{len(exercises) + 1}. " not in text, stem


def cramers_v(a, b):
    table = pd.crosstab(a, b).to_numpy()
    chi2 = chi2_contingency(table, correction=False)[0]
    return math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))


def test_01_solutions_give_the_answers_the_data_give():
    meta = fnb.open_dataset(preset="smoke").metadata()
    test = meta[(meta["split"] == "test") & (meta["race"] >= 0)]
    smallest = fnb.code_to_name("race", test["race"].value_counts().idxmin())
    ns = fnb.exercises.run_solution("01.1", preset="smoke")
    assert ns["answer"] == smallest
    assert check("01.1", ns["answer"], preset="smoke").correct is True
    assert check("01.1", "White", preset="smoke").correct is False
    attributes = ["race", "gender", "ethnicity", "language", "maritalstatus"]
    pairs = {(a, b): cramers_v(*[meta.loc[(meta[a] >= 0) & (meta[b] >= 0),
                                         c] for c in (a, b)])
             for i, a in enumerate(attributes) for b in attributes[i + 1:]}
    ns = fnb.exercises.run_solution("01.3", preset="smoke")
    assert set(ns["answer"]) == set(max(pairs, key=pairs.get))
    assert check("01.3", ns["answer"], preset="smoke").correct is True
    ns = fnb.exercises.run_solution("01.2", preset="smoke")
    mean = ns["table"].xs("mean", axis=1, level=1)  # planted vs none
    gap = mean.loc["White"] - mean.loc["Black"]  # darker Black images
    assert gap["planted"] > 3 * abs(gap["none"])
