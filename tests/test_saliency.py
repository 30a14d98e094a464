"""Saliency and sanity checks on a tiny CNN trained here on synthetic images whose label depends on one quadrant."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cfx_desktop.core.imaging.explain import sanity

from cfx_desktop.core.imaging.explain import saliency
from cfx_desktop.core.imaging.models.classifier import ImageModel, SeedCNN

SIZE = 32


def _sample(rng: np.random.Generator, positive: bool) -> np.ndarray:
    """Noise plus a bright 6x6 square: in the top-left quadrant when positive, elsewhere when not."""
    image = rng.normal(0.3, 0.05, (SIZE, SIZE)).astype(np.float32)
    if positive:
        r, c = rng.integers(2, 10), rng.integers(2, 10)
    else:
        r, c = (rng.integers(18, 26), rng.integers(2, 26)) if rng.random() < 0.5 else (rng.integers(2, 10), rng.integers(18, 26))
    image[r : r + 6, c : c + 6] = 0.95
    return np.clip(image, 0, 1)


@pytest.fixture(scope="module")
def quadrant_model() -> ImageModel:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 600)
    images = np.stack([_sample(rng, bool(y)) for y in labels])
    net = SeedCNN(widths=(8, 16, 32), dense=16, dropout=0.0)  # an 8 x 8 Grad-CAM grid at 32 px, like 128 px for the app
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    x = (torch.as_tensor(images)[:, None] - 0.3) / 0.2
    y = torch.as_tensor(labels, dtype=torch.float32)
    for _ in range(25):
        for start in range(0, len(x), 50):
            optimiser.zero_grad()
            F.binary_cross_entropy_with_logits(net(x[start : start + 50]), y[start : start + 50]).backward()
            optimiser.step()
    model = ImageModel("quadrant", "seed-cnn", net.eval(), SIZE, 0.3, 0.2)
    test = [_sample(rng, True) for _ in range(20)] + [_sample(rng, False) for _ in range(20)]
    accuracy = np.mean([(model.probability(t) >= 0.5) == (i < 20) for i, t in enumerate(test)])
    assert accuracy >= 0.9, f"the premise: the tiny model learned the quadrant rule ({accuracy:.2f})"
    return model


def _quadrant_share(values: np.ndarray) -> float:
    positive = np.clip(values, 0, None)
    return float(positive[: SIZE // 2, : SIZE // 2].sum() / positive.sum())


SMALL_IMAGE = {"occlusion": {"window": 6, "stride": 3}}  # the quadrant model reads 32 px images


@pytest.mark.parametrize("method", ["gradcam", "ig", "occlusion"])
def test_maps_put_most_mass_in_the_deciding_quadrant(quadrant_model, method: str) -> None:
    rng = np.random.default_rng(5)
    shares = []
    for _ in range(5):
        image = _sample(rng, True)
        result = saliency.saliency_map(quadrant_model, image, method, target="pneumonia", params=SMALL_IMAGE.get(method))
        assert result.values.shape == image.shape and result.target == "pneumonia"
        shares.append(_quadrant_share(result.values))
    # Grad-CAM: a quarter of the image holds most of the evidence. IG and occlusion also credit the noise pixels
    # (against a black baseline / grey occluder) but must still clearly favour the quadrant (uniform = 0.25).
    assert np.mean(shares) > (0.5 if method == "gradcam" else 0.35), shares


def test_maps_match_input_size_for_non_square_images(quadrant_model) -> None:
    image = np.random.default_rng(1).random((50, 90)).astype(np.float32)
    result = saliency.saliency_map(quadrant_model, image, "gradcam")
    assert result.values.shape == (50, 90) and result.model_values.shape == (SIZE, SIZE)
    assert result.values[:, :20].max() == 0  # outside the centre square crop


def test_ig_reports_convergence_and_baselines(quadrant_model) -> None:
    image = _sample(np.random.default_rng(2), True)
    for baseline in ("black", "blurred"):
        result = saliency.saliency_map(quadrant_model, image, "ig", params={"n_steps": 32, "internal_batch_size": 16, "baseline": baseline})
        assert result.params["n_steps"] == 32 and result.params["baseline"] == baseline
        x = quadrant_model.tensor(image)
        with torch.no_grad():
            total = float(quadrant_model.net(x)[0] - quadrant_model.net(saliency.baseline_for(quadrant_model, x, baseline))[0])
        assert result.params["convergence_delta"] < 0.1 * abs(total)  # completeness within 10% at 32 steps
        assert float(result.model_values.sum()) == pytest.approx(total, rel=0.1)
    with pytest.raises(ValueError):
        saliency.saliency_map(quadrant_model, image, "lime")


def _hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


def test_hooks_are_released_after_every_call(quadrant_model) -> None:
    image = _sample(np.random.default_rng(3), True)
    before = _hook_count(quadrant_model.net)
    for i in range(300):
        saliency.saliency_map(quadrant_model, image, ("gradcam", "ig", "gradcam")[i % 3], params={"n_steps": 4, "internal_batch_size": 4} if i % 3 == 1 else None)
    assert _hook_count(quadrant_model.net) == before == 0
    assert torch.nn.modules.module._global_forward_hooks == {}


def test_the_randomized_twin_is_copied_under_the_models_lock_and_carries_no_borrowed_hooks(quadrant_model) -> None:
    """Another thread (a guard check, a saliency map) registers forward hooks on the shared net while it holds the
    model's lock; a twin copied meanwhile carried those hooks and fed that thread's captured activations."""
    import threading

    twins = []
    with quadrant_model.lock:  # what a guard check does on another thread
        handle = next(m for m in quadrant_model.net.modules() if isinstance(m, nn.Conv2d)).register_forward_hook(
            lambda *_: None)
        copying = threading.Thread(target=lambda: twins.append(sanity.randomizable_twin(quadrant_model)))
        copying.start()
        copying.join(0.3)
        assert copying.is_alive() and not twins, "the copy must wait for the lock"
        handle.remove()
    copying.join(10)
    assert twins and _hook_count(twins[0].net) == 0


def test_randomized_models_give_different_maps(quadrant_model) -> None:
    image = _sample(np.random.default_rng(4), True)
    report = sanity.run(quadrant_model, image, "gradcam")
    assert [r.name for r in report.rows][0].startswith("cascade up to head")
    deep = [r.spearman for r in report.rows[1:]]  # once more than the output layer is random
    assert max(deep) < 0.7 and np.mean(deep) < 0.6, report.table()  # a trained model's own map would give 1.0
    assert all(-1 <= r.spearman <= 1 and -1 <= r.ssim <= 1 for r in report.rows)
    # the original model is untouched by the randomization of its copy
    assert quadrant_model.probability(image) > 0.5


def test_the_top_layer_is_judged_by_its_median_draw_and_the_cascade_goes_on_from_the_first(quadrant_model) -> None:
    image = _sample(np.random.default_rng(4), True)
    single = sanity.run(quadrant_model, image, "gradcam", draws=1)
    several = sanity.run(quadrant_model, image, "gradcam")
    top = several.rows[0]
    assert len(top.draws) == sanity.TOP_LAYER_DRAWS == 5 and single.rows[0].draws == ()
    assert top.draws[0] == pytest.approx(single.rows[0].spearman)  # the first draw is the cascade's own
    assert abs(top.spearman) == pytest.approx(sorted(abs(d) for d in top.draws)[2])
    assert len(set(np.round(top.draws, 6))) > 1  # the draws differ
    for a, b in zip(single.rows[1:], several.rows[1:]):  # the deeper cascade is unchanged by the extra draws
        assert a.name == b.name and a.spearman == pytest.approx(b.spearman)
    assert "median of 5 random draws" in several.plain_name(top)


def _report(*rows: tuple[str, float]) -> sanity.SanityReport:
    blank = np.zeros((4, 4))
    trained = np.arange(16.0).reshape(4, 4)  # a map with structure (an empty one cannot be judged)
    return sanity.SanityReport("gradcam", trained, [sanity.SanityRow(name, rho, 0.0, blank) for name, rho in rows])


def test_sanity_verdicts_read_the_right_rows_against_stated_bounds() -> None:
    report = _report(("cascade up to head", 0.45), ("cascade up to conv2", 0.2), ("cascade up to conv1", 0.35),
                     (sanity.DATA_ROW, 0.1))
    verdicts = {v.check: v for v in report.verdicts()}
    assert set(verdicts) == {"top layer randomized", "all layers randomized", "labels randomized"}
    assert verdicts["top layer randomized"].row == "cascade up to head" and verdicts["top layer randomized"].passed
    # the last cascade row is the fully random model: 0.35 is not below 0.3, so that check fails
    assert verdicts["all layers randomized"].row == "cascade up to conv1" and not verdicts["all layers randomized"].passed
    assert verdicts["labels randomized"].passed
    assert "FAIL" in verdicts["all layers randomized"].line() and "< 0.30" in verdicts["all layers randomized"].line()
    # a map that survives randomizing the top layer almost unchanged is flagged, as the issue asked
    assert not _report(("cascade up to head", 0.945)).verdicts()[0].passed
    assert [v.check for v in _report(("cascade up to head", 0.1)).verdicts()] == ["top layer randomized", "all layers randomized"]
    assert not _report(("cascade up to head", -0.6)).verdicts()[0].passed  # an inverted map is the same structure


def test_similarity_measures() -> None:
    a = np.random.default_rng(0).random((32, 32))
    assert sanity.spearman_abs(a, a) == pytest.approx(1.0)
    assert sanity.ssim(a, a) == pytest.approx(1.0)
    assert sanity.ssim(a, np.random.default_rng(1).random((32, 32))) < 0.5


def test_constant_map_scores_zero_without_warning() -> None:
    import warnings

    a = np.random.default_rng(0).random((32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would fail here
        assert sanity.spearman_abs(a, np.zeros_like(a)) == 0.0
        assert sanity.spearman_abs(np.ones_like(a), a) == 0.0


@pytest.mark.parametrize("method", ["gradcam", "ig", "occlusion"])
def test_a_batch_gives_each_image_its_own_map(quadrant_model, method: str) -> None:
    """The batch path (one pass on a GPU) explains each image for its own predicted class, as one call per image."""
    rng = np.random.default_rng(7)
    images = [_sample(rng, True), _sample(rng, False), _sample(rng, True)[:, 2:]]  # mixed classes, one not square
    batch = saliency.saliency_maps(quadrant_model, images, method, params=SMALL_IMAGE.get(method))
    assert {m.target for m in batch} == {"pneumonia", "normal"}
    params = SMALL_IMAGE.get(method)
    if method == "ig":  # the batch takes the steps its least converged image needs: compare at that many steps
        steps = batch[0].params["steps_used"]
        params = {"n_steps": steps, "max_steps": steps}
        assert all(m.params["relative_delta"] <= m.params["tolerance"] or steps == 96 for m in batch)
    for image, got in zip(images, batch):
        one = saliency.saliency_map(quadrant_model, image, method, params=params)
        assert got.target == one.target and got.values.shape == image.shape
        np.testing.assert_allclose(got.values, one.values, rtol=1e-4, atol=1e-5 * float(np.abs(one.values).max()))


def test_an_empty_map_cannot_pass_its_sanity_checks() -> None:
    """A model that learnt nothing gives a constant map; its 0 correlation with any randomized map proves nothing,
    so every check says "cannot judge" instead of "pass" (seen with a 3-epoch model trained on 137 images)."""
    report = _report(("cascade up to head", 0.0), (sanity.DATA_ROW, 0.0))
    report.original = np.zeros_like(report.original)
    verdicts = report.verdicts()
    assert verdicts and not any(v.passed for v in verdicts)
    assert all(v.word == "cannot judge" and "map is empty" in v.line() for v in verdicts)
    assert all(v.passed for v in _report(("cascade up to head", 0.0), (sanity.DATA_ROW, 0.0)).verdicts())
