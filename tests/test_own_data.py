"""Your own CSV as a dataset: inference, the schema as JSON, bad input, and the whole path from a generated CSV
to an explained row, reloaded from disk in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cfx_desktop.cli import main
from cfx_desktop.core.tabular.infer import InferenceError, infer_schema
from cfx_desktop.core.tabular.schema import Mutability, SchemaError
from cfx_desktop.core.tabular.schema_io import read_schema, schema_from_dict, schema_to_dict, write_schema
from tests.own_data_fixtures import cohort_csv


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    monkeypatch.setenv("CFX_USER_DATA_DIR", str(folder))
    return folder


def test_inference_proposes_kinds_and_leaves_out_what_cannot_help(tmp_path: Path) -> None:
    inference = infer_schema(cohort_csv(tmp_path / "c.csv"), "outcome", "My cohort", positive="sick")
    roles = {c.name: (c.role, c.kind) for c in inference.columns}
    assert roles["patient_id"] == ("excluded", "identifier")
    assert roles["notes"][0] == "excluded" and roles["site"] == ("excluded", "constant")
    assert roles["age"] == ("feature", "integer") and roles["bp"] == ("feature", "continuous")
    assert roles["smoker"] == ("feature", "binary") and roles["outcome"] == ("target", "binary")
    schema = inference.schema
    assert schema.target_values == ("well", "sick") and schema.missing_allowed
    chol = next(c for c in inference.columns if c.name == "chol")
    assert 0.3 < chol.missing < 0.37 and "training median" in chol.reason
    # suggested, not decided: age and sex are proposed immutable from their names, the rest mutable
    assert schema["age"].mutability == Mutability.IMMUTABLE and schema["sex"].mutability == Mutability.IMMUTABLE
    assert schema["bp"].mutability == Mutability.MUTABLE
    ages = [int(line.split(",")[1]) for line in (tmp_path / "c.csv").read_text().splitlines()[1:]]
    assert schema["age"].min <= min(ages) and schema["age"].max >= max(ages)  # seen range plus a margin
    schema.example_vector()  # the typical patient fits the schema


@pytest.mark.parametrize("target, message", [
    ("nope", "has no column 'nope'"),
    ("site", "only one class"),
    ("notes", "classes"),
])
def test_unusable_outcomes_are_refused_with_what_to_do(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(InferenceError, match=message):
        infer_schema(cohort_csv(tmp_path / "c.csv"), target)


def test_three_classes_too_few_rows_and_bad_files_say_why(tmp_path: Path) -> None:
    three = tmp_path / "three.csv"
    three.write_text("x,y\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(60)))
    with pytest.raises(InferenceError, match="has 3 classes .*merge the classes into two"):
        infer_schema(three, "y")
    few = tmp_path / "few.csv"
    few.write_text("x,y\n" + "".join(f"{i},{int(i < 3)}\n" for i in range(40)))
    with pytest.raises(InferenceError, match="each class needs at least 10"):
        infer_schema(few, "y")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("x,y\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(InferenceError, match="not UTF-8"):
        infer_schema(latin, "y")
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("x;y\n" + "".join(f"{i % 17};{i % 2}\n" for i in range(60)))
    assert infer_schema(semicolons, "y").schema.names == ["x"]  # separators are sniffed


def test_a_large_file_is_read_and_trained_on_a_stated_sample(tmp_path: Path, user_dir: Path) -> None:
    from cfx_desktop.core.tabular import user_datasets

    big = cohort_csv(tmp_path / "big.csv", n=100_000, missing_every=0)
    inference = infer_schema(big, "outcome", "Big", positive="sick")
    assert inference.rows == 100_000
    item = user_datasets.create(inference.schema, big)
    item = user_datasets.train(item.name, ["lasso"], members=1, cv_repeats=0, max_rows=400)
    card = json.loads((item.weights / "big-lasso.json").read_text())
    assert card["data"]["split"].startswith("a stratified sample of 400 of the 100000 rows")
    # the reference patients the suggestions are judged against are the same 320 training rows
    from cfx_desktop.core.tabular.live import default_reference
    from cfx_desktop.core.tabular.models import load_model
    from cfx_desktop.core.tabular.train import reference_stats

    reference = default_reference(load_model("big-lasso"))
    assert reference is not None and len(reference.X) == 320
    assert reference_stats(inference.schema, reference.X) == card["reference_stats"]
    user_datasets.remove(item.name)


def test_training_reads_the_file_as_inference_did(tmp_path: Path, user_dir: Path) -> None:
    """A semicolon file with '?' for missing values and rows without an outcome: what inference accepted and
    promised (rows without an outcome left out of training) is what training then reads."""
    from cfx_desktop.core.tabular import user_datasets
    from cfx_desktop.core.tabular.data import CsvError, load_csv, load_dataset

    lines = cohort_csv(tmp_path / "c.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines]
    for i, cells in enumerate(rows[1:]):
        cells[4] = cells[4] or "?"
        if i % 25 == 0:
            cells[-1] = ""
    odd = tmp_path / "odd.csv"
    odd.write_text("\n".join(";".join(cells) for cells in rows) + "\n")
    inference = infer_schema(odd, "outcome", "Odd", positive="sick")
    assert inference.schema.delimiter == ";" and inference.rows == 288
    assert "12 row(s) without an outcome are left out of training" in inference.notes
    write_schema(inference.schema, tmp_path / "odd.json")
    assert read_schema(tmp_path / "odd.json").delimiter == ";"
    cohort = load_dataset(inference.schema, odd)
    assert cohort.X.shape == (288, len(inference.schema.features)) and 2 not in cohort.lines and 3 in cohort.lines
    chol = inference.schema.names.index("chol")
    assert 0.3 < np.isnan(cohort.X[:, chol]).mean() < 0.37
    patients = load_csv(odd, inference.schema, allow_extra=True, missing_ok=True)  # to explain: every row stays
    assert len(patients.X) == 300 and patients.y is None
    with pytest.raises(CsvError, match="separated by commas; expected semicolons"):
        load_csv(tmp_path / "c.csv", inference.schema)
    item = user_datasets.create(inference.schema, odd)
    item = user_datasets.train(item.name, ["lasso"], members=1, cv_repeats=0)
    card = json.loads((item.weights / "odd-lasso.json").read_text())
    assert card["data"]["rows"] == 288
    user_datasets.remove(item.name)


def test_schema_json_round_trip_and_refusals(tmp_path: Path) -> None:
    schema = infer_schema(cohort_csv(tmp_path / "c.csv"), "outcome", positive="sick").schema
    path = tmp_path / "schema.json"
    write_schema(schema, path)
    assert read_schema(path) == schema
    data = schema_to_dict(schema)
    with pytest.raises(SchemaError, match="also listed as a feature"):
        schema_from_dict({**data, "target": "age"})
    with pytest.raises(SchemaError, match="not a cfx-desktop schema"):
        schema_from_dict({**data, "format": "something else"})
    broken = dict(data, features=[dict(data["features"][0], kind="colour")])
    with pytest.raises(SchemaError, match="colour"):
        schema_from_dict(broken)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SchemaError, match="cannot read the schema"):
        read_schema(tmp_path / "bad.json")


def test_from_a_generated_csv_to_an_explained_row_reloaded_in_a_fresh_process(tmp_path: Path, user_dir: Path, capsys,
                                                                              subprocess_env) -> None:
    """infer -> edit -> train a small model set -> explain a row -> a fresh process loads it from disk."""
    from cfx_desktop.core.tabular import user_datasets

    csv = cohort_csv(tmp_path / "cohort.csv")
    assert main(["schema", "infer", str(csv), "--target", "outcome", "--positive", "sick", "--name", "Clinic A"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # the user's edits: blood pressure may not be changed by a suggestion; cholesterol gets a unit
    for feature in printed["features"]:
        if feature["name"] == "bp":
            feature["mutability"] = "immutable"
        if feature["name"] == "chol":
            feature["unit"] = "mg/dL"
    edited = tmp_path / "schema.json"
    edited.write_text(json.dumps(printed))
    assert main(["train-tabular", "--data", str(csv), "--schema", str(edited), "--name", "Clinic A", "--model", "lasso",
                 "--cv-repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "dataset clinic-a" in out and "CV ROC AUC" in out
    item = user_datasets.get("clinic-a")
    assert item.schema["bp"].mutability == Mutability.IMMUTABLE and item.schema["chol"].unit == "mg/dL"
    assert (item.weights / "MANIFEST.json").exists() and item.info["cv"][0]["cv_roc_auc"] != "n/a"
    for row in range(2, 32):  # a row with suggestions, so that the lock below is checked on something
        assert main(["explain-patient", "--dataset", "clinic-a", "--csv", str(csv), "--row", str(row), "--json"]) == 0
        here = json.loads(capsys.readouterr().out)
        if here["counterfactuals"]:
            break
    assert here["counterfactuals"], "no row of the first 30 has a suggestion"
    env = dict(subprocess_env, CFX_USER_DATA_DIR=str(user_dir))
    run = subprocess.run([sys.executable, "-m", "cfx_desktop", "explain-patient", "--dataset", "clinic-a", "--csv", str(csv),
                          "--row", str(row), "--json"], capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, run.stderr
    there = json.loads(run.stdout)
    assert there["model"] == "clinic-a-lasso" and there["prediction"] == here["prediction"]
    assert there["counterfactuals"], there.get("reason")  # else the lock below would be checked on nothing
    for cf in there["counterfactuals"]:
        assert all(change["feature"] not in ("bp", "age", "sex") for change in cf["changes"])
    capsys.readouterr()
    assert main(["datasets"]) == 0 and capsys.readouterr().out.startswith("clinic-a: ")  # the bare command lists
    assert main(["datasets", "remove", "clinic-a"]) == 0
    assert not item.folder.exists() and csv.exists()


def test_train_tabular_on_your_own_data_does_what_it_is_told(tmp_path: Path, user_dir: Path, capsys) -> None:
    """--members and --cv-repeats as given (the defaults for your own data apply only when they are left out)."""
    from cfx_desktop.core import bundles
    from cfx_desktop.core.tabular import user_datasets

    csv = cohort_csv(tmp_path / "c.csv")
    assert main(["train-tabular", "--data", str(csv), "--target", "outcome", "--positive", "sick", "--name", "Told",
                 "--model", "lasso", "--members", "1", "--cv-repeats", "0"]) == 0
    item = user_datasets.get("told")
    assert bundles.list_bundles(item.weights) == ["told-lasso"] and item.info["cv"][0]["cv_roc_auc"] == "n/a"
    card = json.loads((item.weights / "told-lasso.json").read_text())
    assert "--members 1 --cv-repeats 0" in card["command"]
    user_datasets.remove("told")


def test_a_tampered_user_model_is_refused(tmp_path: Path, user_dir: Path) -> None:
    from cfx_desktop.core import bundles, model_cache
    from cfx_desktop.core.tabular import user_datasets
    from cfx_desktop.core.tabular.models import load_model

    schema = infer_schema(cohort_csv(tmp_path / "c.csv"), "outcome", "Tamper", positive="sick").schema
    item = user_datasets.create(replace(schema, name="tamper"), tmp_path / "c.csv")
    user_datasets.train(item.name, ["lasso"], members=1, cv_repeats=0)
    card = item.weights / "tamper-lasso.json"
    card.write_text(card.read_text().replace('"threshold"', '"threshold" ', 1))
    model_cache.clear()
    with pytest.raises(bundles.BundleError, match="sha256 mismatch"):
        load_model("tamper-lasso")
    user_datasets.remove(item.name)


def test_a_users_file_is_found_on_a_fresh_install_without_the_real_data_folder(tmp_path: Path, monkeypatch) -> None:
    """A user's dataset names its CSV by absolute path; it was looked up under ../shared/data, which a fresh
    install does not have, so training and explaining one's own CSV failed there (found by a fresh-clone CI run)."""
    from cfx_desktop import paths

    monkeypatch.setenv("CFX_DATA_DIR", str(tmp_path / "absent"))
    csv = tmp_path / "mine.csv"
    csv.write_text("a,b\n1,2\n")
    assert paths.shared_data_dir() is None
    assert paths.data_file(str(csv)) == csv
    assert paths.data_file(str(tmp_path / "gone.csv")) is None and paths.data_file("heart.csv") is None


def test_the_apps_training_session_removes_a_cancelled_dataset_before_it_says_so(tmp_path: Path, user_dir: Path) -> None:
    """`sessions.training.Training` with `user_datasets.train_or_remove`, without a window: a cancelled training
    says "stopped" only after the half-made dataset is gone; a finished one hands on its result."""
    from cfx_desktop.core.tabular import user_datasets
    from cfx_desktop.sessions.scheduler import ImmediateScheduler
    from cfx_desktop.sessions.training import Training

    csv = cohort_csv(tmp_path / "c.csv")
    schema = infer_schema(csv, "outcome", "Stopped one", positive="sick").schema
    item = user_datasets.create(schema, csv, {"source": "test"})
    training = Training(ImmediateScheduler(cancel_after=1), "Training your dataset")
    events: list[tuple] = []
    training.stopped.connect(lambda name: events.append(("stopped", name, (user_datasets.root() / name).exists())))
    training.trained.connect(lambda name, result: events.append(("trained", name)))
    training.start(item.name, user_datasets.train_or_remove, item.name, ["lasso", "mlp"], members=1, cv_repeats=0)
    assert events == [("stopped", item.name, False)] and not training.running
    assert item.name not in [d.name for d in user_datasets.installed()]

    item = user_datasets.create(infer_schema(csv, "outcome", "Kept one", positive="sick").schema, csv, {"source": "test"})
    training = Training(ImmediateScheduler(), "Training your dataset")
    training.trained.connect(lambda name, result: events.append(("trained", name, result.info["cv"][0]["model"])))
    training.start(item.name, user_datasets.train_or_remove, item.name, ["lasso"], members=1, cv_repeats=0)
    assert events[-1][:2] == ("trained", item.name) and (user_datasets.root() / item.name).exists()
    user_datasets.remove(item.name)
