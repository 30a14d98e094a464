"""Batch explanation: JSON lines per item, resume after an interruption, maps as PNG and NPY, the same results on
a local Dask cluster, and clear refusals."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cfx_desktop.cli import main
from cfx_desktop.core.tabular.datasets import default_variant, schema_for
from tests.tabular_fixtures import synthetic_cohort


def _patients_csv(path: Path, n: int = 10) -> Path:
    schema = schema_for(default_variant())
    X, _ = synthetic_cohort(n, seed=3, schema=schema)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(schema.names)
        for row in X:
            patient = schema.to_patient(row)
            w.writerow([patient[n] for n in schema.names])
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_patients_run_twice_resumes_and_an_interrupted_write_is_redone(tmp_path: Path, capsys) -> None:
    csv_path, out = _patients_csv(tmp_path / "cohort.csv"), tmp_path / "out"
    args = ["batch-explain-patients", str(csv_path), "--out", str(out), "--chunk-size", "4", "--shapley", "8"]
    assert main(args) == 0
    first = _lines(out / "results.jsonl")
    assert [r["id"] for r in first] == [str(i) for i in range(1, 11)]
    assert {"prediction", "counterfactuals", "attribution", "patient"} <= set(first[0])
    assert first[0]["prediction"]["set_size"] >= 4 and "10 explained, 0 already done" in capsys.readouterr().out

    assert main(args) == 0  # the second run finds everything done
    assert "0 explained, 10 already done" in capsys.readouterr().out
    assert _lines(out / "results.jsonl") == first

    # an interruption: the last three lines lost, the one before them half written
    text = (out / "results.jsonl").read_text().splitlines(keepends=True)
    (out / "results.jsonl").write_text("".join(text[:6]) + text[6][:40])
    assert main(args) == 0
    assert "4 explained, 6 already done" in capsys.readouterr().out
    again = _lines(out / "results.jsonl")
    assert sorted(int(r["id"]) for r in again) == list(range(1, 11))
    assert {r["id"]: r["prediction"] for r in again} == {r["id"]: r["prediction"] for r in first}


def test_a_folder_made_with_other_settings_is_not_mixed(tmp_path: Path, capsys) -> None:
    csv_path, out = _patients_csv(tmp_path / "cohort.csv", 3), tmp_path / "out"
    assert main(["batch-explain-patients", str(csv_path), "--out", str(out), "--shapley", "0"]) == 0
    capsys.readouterr()
    assert main(["batch-explain-patients", str(csv_path), "--out", str(out), "--shapley", "0", "--k", "2"]) == 2
    err = capsys.readouterr().err
    assert "explain.k: 1 then, 2 now" in err and "--restart" in err
    assert main(["batch-explain-patients", str(csv_path), "--out", str(out), "--shapley", "0", "--k", "2", "--restart"]) == 0
    assert all(len(r["counterfactuals"]) <= 2 for r in _lines(out / "results.jsonl"))


def _image_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    for i in range(3):  # a chest-like gradient with noise: scored (or flagged unusual), never an error
        y = np.linspace(0, 1, 140)[:, None] * np.hanning(160)[None, :]
        img = np.clip(y * 220 + rng.normal(0, 8, (140, 160)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / ("sub" if i else ".") / f"x{i}.png")
    (root / "broken.png").write_bytes(b"not a picture")
    return root


def test_images_write_maps_and_lines_and_resume(tmp_path: Path, capsys) -> None:
    folder, out = _image_folder(tmp_path / "imgs"), tmp_path / "out"
    args = ["batch-explain-images", str(folder), "--methods", "gradcam,occlusion", "--out", str(out)]
    assert main(args) == 0
    lines = _lines(out / "results.jsonl")
    assert sorted(r["id"] for r in lines) == ["sub/x1.png", "sub/x2.png", "x0.png"]
    errors = _lines(out / "errors.jsonl")
    assert [e["id"] for e in errors] == ["broken.png"] and "not an image" in errors[0]["error"]
    assert any("maps" in r for r in lines), "at least one image must be scored, else nothing here is checked"
    for r in lines:
        assert r["guard"]["level"] in ("ok", "caution", "withheld")
        if r["guard"]["level"] == "withheld":
            assert r["prediction"]["probability"] is None and "maps" not in r
            continue
        # the label by the rule every other reader shows (the panel, predict-image, the PACS finding)
        from cfx_desktop.core.imaging.guard.model import load_guard
        from cfx_desktop.core.imaging.io.load import load_image
        from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model
        from cfx_desktop.core.imaging.models.decision import guarded_prediction

        model = load_image_model(DEFAULT_MODEL)
        _, p, label = guarded_prediction(load_guard(model), model, load_image(folder / r["path"]))
        assert (r["prediction"]["probability"], r["prediction"]["label"]) == (pytest.approx(p), label)
        assert r["prediction"]["single_view"]["threshold"] == model.threshold
        for method in ("gradcam", "occlusion"):
            npy = np.load(out / r["maps"][method]["npy"])
            assert npy.shape == (r["crop"]["map_size"],) * 2 and np.isfinite(npy).all()
            assert Image.open(out / r["maps"][method]["png"]).size == npy.shape
    capsys.readouterr()
    assert main(args) == 0
    assert "0 explained, 3 already done, 1 failed" in capsys.readouterr().out  # the unreadable file is tried again


def test_unknown_method_and_empty_folder_are_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["batch-explain-images", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert main(["batch-explain-images", str(tmp_path), "--methods", "gradcam,nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown saliency method(s) nope" in capsys.readouterr().err


def test_a_local_dask_cluster_gives_the_same_lines(tmp_path: Path, capsys) -> None:
    pytest.importorskip("distributed", reason="Dask distributed is optional (pip install 'cfx-desktop[cluster]')")
    csv_path = _patients_csv(tmp_path / "cohort.csv", 6)
    base = ["batch-explain-patients", str(csv_path), "--shapley", "0", "--chunk-size", "2", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "here")]) == 0
    # half done here, the rest on two Dask workers: the cluster resumes the same folder
    shutil.copytree(tmp_path / "here", tmp_path / "there")
    keep = (tmp_path / "there" / "results.jsonl").read_text().splitlines(keepends=True)[:3]
    (tmp_path / "there" / "results.jsonl").write_text("".join(keep))
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "there"), "--dask-local", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 explained, 3 already done" in out and "Dask distributed, a local cluster, 2 worker(s)" in out
    here = {r["id"]: r for r in _lines(tmp_path / "here" / "results.jsonl")}
    there = {r["id"]: r for r in _lines(tmp_path / "there" / "results.jsonl")}
    assert here.keys() == there.keys()
    for key in here:
        assert here[key]["prediction"] == there[key]["prediction"]
        assert here[key]["counterfactuals"] == there[key]["counterfactuals"]


def test_images_on_a_running_scheduler_are_gathered_here(tmp_path: Path, capsys) -> None:
    """--scheduler ADDRESS: a cluster the user runs (here one started by the test, on loopback); the maps come
    back inside the results and are written into --out by this process."""
    distributed = pytest.importorskip("distributed", reason="Dask distributed is optional (pip install 'cfx-desktop[cluster]')")
    folder, out = _image_folder(tmp_path / "imgs"), tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  silence_logs=40) as cluster:
        assert main(["batch-explain-images", str(folder), "--methods", "gradcam", "--out", str(out),
                     "--scheduler", cluster.scheduler_address, "--no-progress"]) == 0
    assert f"scheduler {cluster.scheduler_address}, 1 worker(s)" in capsys.readouterr().out
    lines = _lines(out / "results.jsonl")
    assert len(lines) == 3 and all((out / r["maps"]["gradcam"]["npy"]).exists() for r in lines if "maps" in r)
    assert main(["batch-explain-images", str(folder), "--methods", "gradcam", "--out", str(out),
                 "--scheduler", "tcp://127.0.0.1:9", "--no-progress"]) == 2  # nobody listens there
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in capsys.readouterr().err
