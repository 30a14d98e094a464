"""Local image counterfactuals on a tiny autoencoder and classifier trained here on synthetic images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cfx_desktop.core.cancel import CancelToken, Cancelled
from cfx_desktop.core.imaging.counterfactual.autoencoder import BottleneckVAE, SegNetAE
from cfx_desktop.core.imaging.counterfactual.generate import MaskSettings, SearchSettings, generate, verdict_line
from cfx_desktop.core.imaging.models.classifier import ImageModel, SeedCNN

SIZE = 32


def _image(rng: np.random.Generator, blob: bool) -> np.ndarray:
    image = rng.normal(0.35, 0.04, (SIZE, SIZE)).astype(np.float32)
    if blob:
        r, c = rng.integers(6, 20, 2)
        yy, xx = np.mgrid[:SIZE, :SIZE]
        image += 0.5 * np.exp(-((yy - r - 3) ** 2 + (xx - c - 3) ** 2) / 12.0).astype(np.float32)
    return np.clip(image, 0, 1)


@pytest.fixture(scope="module")
def trained() -> tuple[ImageModel, SegNetAE]:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    images = np.stack([_image(rng, bool(y)) for y in labels])
    x = torch.as_tensor(images)[:, None]
    y = torch.as_tensor(labels, dtype=torch.float32)
    net = SeedCNN(widths=(8, 16, 32), dense=16, dropout=0.0)
    ae = SegNetAE(widths=(8, 16), latent=8)
    opt_c = torch.optim.Adam(net.parameters(), lr=3e-3)
    opt_a = torch.optim.Adam(ae.parameters(), lr=3e-3)
    for _ in range(20):
        for s in range(0, len(x), 50):
            xb = x[s : s + 50]
            opt_c.zero_grad()
            F.binary_cross_entropy_with_logits(net((xb - 0.4) / 0.15), y[s : s + 50]).backward()
            opt_c.step()
            opt_a.zero_grad()
            F.mse_loss(ae(xb), xb).backward()
            opt_a.step()
    ae.eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    model = ImageModel("blob", "seed-cnn", net.eval(), SIZE, 0.4, 0.15)
    return model, ae


def test_counterfactual_flips_and_stays_inside_the_mask(trained) -> None:
    model, ae = trained
    rng = np.random.default_rng(7)
    flips = 0
    for _ in range(4):
        image = _image(rng, True)
        assert model.probability(image) > model.threshold  # the premise: classified as "pneumonia"
        result = generate(model, ae, image, search=SearchSettings(steps=150), mask_settings=MaskSettings(dilation=2))
        flips += result.metrics["flipped"]
        if result.metrics["flipped"]:
            assert model.probability(result.counterfactual) < model.threshold  # the composed image really flips
        outside = result.mask == 0
        assert outside.any() and np.abs(result.difference[outside]).max() <= 1e-6  # nothing changes outside the mask
        assert result.metrics["inside_mask_fraction"] > 0.8
        assert result.counterfactual.shape == (SIZE, SIZE) and result.full_counterfactual.shape == image.shape
        assert len(result.probability_path) == result.metrics["steps"] + 1 and result.frames
    assert flips >= 3


def test_other_direction_and_full_resolution(trained) -> None:
    model, ae = trained
    rng = np.random.default_rng(3)
    image = _image(rng, False)
    big = np.kron(image, np.ones((3, 4), dtype=np.float32))[:, : SIZE * 3]  # 96 x 96 becomes the crop of a wider image
    wide = np.pad(big, ((0, 0), (20, 20)), constant_values=0.2)
    result = generate(model, ae, wide, target="pneumonia", search=SearchSettings(steps=150))
    assert result.source == "normal" and result.target == "pneumonia"
    assert result.full_counterfactual.shape == wide.shape
    assert np.all(result.full_difference[:, :20] == 0) and np.all(result.full_difference[:, -20:] == 0)
    np.testing.assert_array_equal(result.full_counterfactual[result.full_difference == 0], wide[result.full_difference == 0])
    with pytest.raises(ValueError, match="already classified"):
        generate(model, ae, image, target="normal")


def test_cancel_stops_within_one_step(trained) -> None:
    model, ae = trained
    token = CancelToken()
    seen: list[int] = []

    def progress(fraction: float, message: str = "", payload=None) -> None:  # noqa: ANN001
        seen.append(payload["step"])
        if payload["step"] == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        generate(model, ae, _image(np.random.default_rng(1), True), search=SearchSettings(steps=500, weight_cls=1e-6),
                 progress=progress, cancel=token)
    assert seen == [1, 2, 3]


@pytest.fixture(scope="module")
def vae() -> BottleneckVAE:
    """A tiny bottleneck VAE on the same synthetic images (no pooling indices: everything passes the latent)."""
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    x = torch.as_tensor(np.stack([_image(rng, bool(rng.integers(0, 2))) for _ in range(500)]))[:, None]
    net = BottleneckVAE(widths=(8, 16), latent=8)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(25):
        for s in range(0, len(x), 50):
            xb = x[s : s + 50]
            mu, logvar = net.stats(xb)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            loss = F.mse_loss(net.decode_latent(z), xb) + 1e-4 * 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


@pytest.mark.parametrize("method", ["latent-shift", "adam"])
def test_bottleneck_counterfactuals_add_only_the_decoders_change_inside_the_mask(trained, vae, method: str) -> None:
    model, _ = trained
    rng = np.random.default_rng(11)
    reached = 0
    for _ in range(4):
        image = _image(rng, True)
        search = SearchSettings(method=method, compose="delta", target_probability=0.2, steps=60 if method == "latent-shift" else 150)
        result = generate(model, vae, image, search=search, mask_settings=MaskSettings(dilation=2), referee=model)
        m = result.metrics
        assert m["method"] == method and m["goal_probability"] <= min(0.2, model.threshold - 0.05)
        reached += m["reached_goal"]
        if m["reached_goal"]:
            assert m["flipped"] and m["final_probability"] <= m["goal_probability"]
        outside = result.mask == 0
        assert np.abs(result.difference[outside]).max() <= 1e-6  # delta composition: nothing outside the mask
        assert 0 <= m["decoded_inside_mask_fraction"] <= 1 and 0 <= m["high_frequency_share"] <= 1
        # the referee here is the model itself, so it must agree exactly and move exactly as far
        assert m["referee_flipped"] == m["flipped"] and m["referee_relative_change"] == pytest.approx(1.0, abs=1e-3)
        assert verdict_line(m).split(" (")[0] == ("the explained model flipped; the referee flipped too" if m["flipped"]
                                                  else "the explained model did not flip; nor did the referee")
    assert reached >= 3


def test_latent_shift_moves_along_one_straight_line(trained, vae) -> None:
    """Latent Shift takes one gradient: the path of p(pneumonia) falls monotonically as lambda grows (no
    optimiser zig-zag), until the goal is reached."""
    model, _ = trained
    image = _image(np.random.default_rng(5), True)
    result = generate(model, vae, image, search=SearchSettings(method="latent-shift", compose="delta", target_probability=0.2, steps=60))
    path = np.array(result.probability_path[1:])
    assert len(path) == result.metrics["steps"] and np.all(np.diff(path) <= 0.02)


def test_the_search_settings_goal() -> None:
    assert SearchSettings().goal(0.6, want_negative=True) == pytest.approx(0.55)
    assert SearchSettings(target_probability=0.2).goal(0.6, want_negative=True) == pytest.approx(0.2)
    assert SearchSettings(target_probability=0.2).goal(0.6, want_negative=False) == pytest.approx(0.8)
    assert SearchSettings(target_probability=0.2).goal(0.9, want_negative=False) == pytest.approx(0.95)  # never short of the threshold


def _bank(vae: BottleneckVAE, rng: np.random.Generator) -> "LatentBank":
    """A bank of the tiny VAE's codes of synthetic films with (1) and without (0) a blob; the 'lungs' are the centre."""
    from cfx_desktop.core.imaging.counterfactual.latent_bank import LatentBank

    codes = {}
    for label in (0, 1):
        x = torch.as_tensor(np.stack([_image(rng, bool(label)) for _ in range(60)]))[:, None]
        codes[label] = vae.encode_latent(x)[0]
    prior = np.zeros((SIZE, SIZE), dtype=bool)
    prior[4:-4, 4:-4] = True
    return LatentBank("test-bank", codes, prior, {})


def test_data_supported_search_walks_toward_real_films_of_the_target_class(trained, vae) -> None:
    model, _ = trained
    rng = np.random.default_rng(5)
    bank = _bank(vae, rng)
    search = SearchSettings(method="data-supported", compose="delta", region="lungs", target_probability=0.2, steps=60)
    reached = 0
    for _ in range(4):
        image = _image(rng, True)
        result = generate(model, vae, image, search=search, referee=model, bank=bank)
        m = result.metrics
        reached += m["reached_goal"]
        assert m["method"] == "data-supported" and m["region"] == "lungs"
        outside = ~result.mask_binary
        assert np.abs(result.difference[outside & (result.mask == 0)]).max() <= 1e-6  # nothing outside the lung region
        assert 0 <= m["change_outside_lungs"] <= 0.25  # the feathered edge only
    assert reached >= 3


def test_data_supported_search_needs_a_bank(trained, vae) -> None:
    model, _ = trained
    with pytest.raises(ValueError, match="latent bank"):
        generate(model, vae, _image(np.random.default_rng(0), True), search=SearchSettings(method="data-supported"))


def test_confirmation_needs_the_referee_too() -> None:
    from cfx_desktop.core.imaging.counterfactual.generate import confirmation

    assert confirmation({"flipped": True, "referee_flipped": True}) == "confirmed"
    assert confirmation({"flipped": True, "referee_flipped": False}) == "not confirmed"
    assert confirmation({"flipped": True}) == "not confirmed"  # no referee installed: nothing confirms it
    assert confirmation({"flipped": False, "referee_flipped": True}) == "not confirmed"


def test_the_verdict_line_names_which_model_flipped() -> None:
    """Each model's answer in its own words: "not flipped; referee agrees" read as a contradiction."""
    referee = {"positive_label": "pneumonia", "referee_initial_probability": 0.8, "referee_final_probability": 0.3,
               "referee_relative_change": 1.2}
    lines = {(model, ref): verdict_line({"flipped": model, "referee_flipped": ref, **referee}).split(" (its")[0]
             for model in (True, False) for ref in (True, False)}
    assert lines == {(True, True): "the explained model flipped; the referee flipped too",
                     (True, False): "the explained model flipped; the referee did not",
                     (False, True): "the explained model did not flip; the referee did",
                     (False, False): "the explained model did not flip; nor did the referee"}
    assert verdict_line({"flipped": True}) == "the explained model flipped; no referee installed to confirm it"
    # the referee's own threshold beside its numbers: 0.91 -> 0.16 at 0.13 is not a flip, which the numbers alone hid
    line = verdict_line({"flipped": True, "referee_flipped": False, **referee, "referee_final_probability": 0.16,
                         "referee_threshold": 0.1317})
    assert "(its p(pneumonia) 0.80 -> 0.16, threshold 0.13; moved 1.20x" in line


def test_destinations_can_be_limited_to_films_the_model_reads_as_the_target(trained, vae) -> None:
    from cfx_desktop.core.imaging.counterfactual.latent_bank import clearly

    model, _ = trained
    rng = np.random.default_rng(9)
    bank = _bank(vae, rng)
    normal = clearly(bank, 0, model, vae, 0.2)
    assert normal.shape == (60,) and normal.dtype == torch.bool
    with torch.inference_mode():
        p = torch.sigmoid(model.logits((vae.decode_latent(bank.codes[0]) - model.mean) / model.std)).reshape(-1)
    assert torch.equal(normal, p <= 0.2)  # exactly the films whose reconstruction reads as normal
    search = SearchSettings(method="data-supported", compose="delta", region="lungs", target_probability=0.2, steps=60,
                            destination_probability=0.2)
    result = generate(model, vae, _image(rng, True), search=search, referee=model, bank=bank)
    assert result.metrics["method"] == "data-supported" and result.metrics["steps"] >= 1


def test_the_first_counterfactuals_one_time_work_is_prepared_ahead() -> None:
    """The shipped classifier walks pneumonia -> normal toward real films it reads clearly as normal; working out
    which took seconds inside the first request. `prepare_counterfactuals` does it in the background instead."""
    from cfx_desktop.core.imaging.counterfactual import latent_bank
    from cfx_desktop.core.imaging import live
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model

    model = load_image_model(DEFAULT_MODEL)
    walks = [t for t in model.labels if live.search_for(model, t, latent_bank.bank_for(model.card["autoencoder"])).method
             == "data-supported"]
    assert walks, "the shipped card chose a data-supported generator for at least one direction"
    latent_bank._clear.clear()
    assert live.prepare_counterfactuals(DEFAULT_MODEL) == walks
    assert {key[2] for key in latent_bank._clear} == {model.labels.index(t) for t in walks}


def test_the_self_test_film_is_a_decoded_chest_film_the_guard_passes() -> None:
    """The shipped model's bank decodes to a film the guard lets through, so the self-test checks the main path;
    a card without an autoencoder gives none (the self-test then falls back to noise)."""
    from types import SimpleNamespace

    from cfx_desktop.core.imaging import live
    from cfx_desktop.core.imaging.counterfactual.example_film import decoded_film
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL, load_image_model

    model = load_image_model(DEFAULT_MODEL)
    film = decoded_film(model)
    assert film is not None and film.shape == (model.input_size, model.input_size) and 0 <= film.min() < film.max() <= 1
    verdict = live.predict(0, film, DEFAULT_MODEL)
    assert not verdict.guard.withheld and verdict.probability is not None
    assert decoded_film(SimpleNamespace(card={}, device=torch.device("cpu"))) is None


def test_held_to_an_opacity_s_sign_an_edit_only_darkens_toward_normal_and_only_brightens_toward_the_finding(
        trained, vae) -> None:
    """The blob model's positive class is a bright blob (an opacity). Held to the sign, a counterfactual toward the
    negative class may only darken and one toward the positive class only brighten; the metric that measures the
    opposite change is then 0, and without the rule it is what it is (measured, not assumed)."""
    from cfx_desktop.core.imaging.counterfactual.generate import opacity_words

    model, _ = trained
    rng = np.random.default_rng(3)
    for blob, target in ((True, model.labels[0]), (False, model.labels[1])):
        image = _image(rng, blob)
        search = SearchSettings(method="adam", compose="delta", target_probability=0.2, steps=80, opacity_rule=True)
        held = generate(model, vae, image, target=target, search=search)
        free = generate(model, vae, image, target=target, search=SearchSettings(method="adam", compose="delta",
                                                                                   target_probability=0.2, steps=80))
        assert (held.difference <= 1e-6).all() if target == model.labels[0] else (held.difference >= -1e-6).all()
        assert held.metrics["against_opacity_share"] == 0 and held.metrics["opacity_rule"]
        assert 0 <= free.metrics["against_opacity_share"] <= 1 and not free.metrics["opacity_rule"]
        verb = "brightens" if target == model.labels[0] else "darkens"
        words = opacity_words(held.metrics)
        assert words.startswith(f"0% of the change {verb} the film") and "held to an opacity's sign" in words


def test_a_confirmed_counterfactual_that_mostly_runs_against_an_opacity_s_sign_says_so() -> None:
    from cfx_desktop.core.imaging.counterfactual.generate import confirmation_sentence

    confirmed = {"flipped": True, "referee_flipped": True, "against_opacity": "brightening"}
    assert confirmation_sentence({**confirmed, "against_opacity_share": 0.79}).endswith(
        "sees the change too, but most of the change is not an opacity cleared")
    plain = "Confirmed: the independent referee sees the change too"
    assert confirmation_sentence({**confirmed, "against_opacity_share": 0.3}) == plain
    added = {**confirmed, "against_opacity": "darkening", "against_opacity_share": 0.6}
    assert confirmation_sentence(added).endswith("not an opacity added")
    assert "opacity" not in confirmation_sentence({"flipped": True, "referee_flipped": True})  # older metrics
    from cfx_desktop.core.imaging.counterfactual.generate import convincing  # what the app colours good, not amber

    assert convincing({**confirmed, "against_opacity_share": 0.3})
    assert not convincing({**confirmed, "against_opacity_share": 0.79})


def _film(lung: float, tissue: float) -> tuple[np.ndarray, np.ndarray]:
    """A 64 px 'film' whose two lung fields have one intensity and everything else another, with those fields."""
    lungs = np.zeros((64, 64), dtype=bool)
    lungs[16:48, 10:28] = lungs[16:48, 36:54] = True
    return np.where(lungs, lung, tissue).astype(np.float32), lungs


def test_lung_contrast_is_taken_against_the_tissue_around_the_lungs_so_exposure_cancels() -> None:
    from cfx_desktop.core.imaging.counterfactual.realism import lung_contrast, surround

    film, lungs = _film(0.3, 0.6)
    assert lung_contrast(film, lungs) == pytest.approx(-0.3)
    assert lung_contrast(film + 0.2, lungs) == pytest.approx(-0.3)  # a brighter exposure of the same chest
    band = surround(lungs)
    assert not (band & lungs).any() and band.any()
    assert lung_contrast(np.stack([film, _film(0.5, 0.5)[0]]), lungs) == pytest.approx([-0.3, 0.0])


def test_lungs_unlike_real_films_of_the_target_class_are_named_and_withhold_the_good_colour() -> None:
    """Outside the central 95 % of real films of the target class, on either side, a counterfactual is unlike them:
    toward normal, lungs darker than nearly every real normal film are over-lucent (beyond), and lungs still
    brighter than nearly all of them were not cleared (short); within the range, no caveat."""
    from cfx_desktop.core.imaging.counterfactual.generate import (caveats, confirmation_sentence, confirmation_words,
                                                                  convincing, expert_checks)
    from cfx_desktop.core.imaging.counterfactual.realism import judge, realism_words

    reference = np.linspace(-0.3, -0.05, 200)  # real films' lung contrasts
    original, lungs = _film(0.45, 0.5)
    over_lucent = judge(original, _film(0.1, 0.5)[0], lungs, reference, "normal", want_normal=True)
    assert over_lucent["lung_contrast"] == pytest.approx(-0.4) and over_lucent["lung_contrast_original"] == pytest.approx(-0.05)
    assert over_lucent["lung_contrast_where"] == "beyond" and over_lucent["lung_contrast_unlike_real"]
    assert realism_words(over_lucent) == ("lung contrast -0.05 -> -0.40 against the tissue around them: darker than "
                                          "100 % of real normal films (over-lucent)")
    within = judge(original, _film(0.3, 0.5)[0], lungs, reference, "normal", want_normal=True)
    assert within["lung_contrast_where"] == "within" and within["lung_contrast_percentile"] == pytest.approx(40, abs=1)
    assert realism_words(within).endswith("within the central 95 % of real normal films (percentile 40)")
    not_cleared = judge(original, _film(0.48, 0.5)[0], lungs, reference, "normal", want_normal=True)
    assert not_cleared["lung_contrast_where"] == "short" and realism_words(not_cleared).endswith(
        "still brighter than 100 % of real normal films (not cleared as far as a real normal film's)")
    denser = judge(original, _film(0.6, 0.5)[0], lungs, reference, "pneumonia", want_normal=False)
    assert denser["lung_contrast_where"] == "beyond" and "(denser than real ones)" in realism_words(denser)
    nothing_added = judge(original, _film(0.1, 0.5)[0], lungs, reference, "pneumonia", want_normal=False)
    assert nothing_added["lung_contrast_where"] == "short" and realism_words(nothing_added).endswith(
        "still darker than 100 % of real pneumonia films (no opacity as dense as a real one added)")

    confirmed = {"flipped": True, "referee_flipped": True, "against_opacity": "brightening", "against_opacity_share": 0.1}
    assert confirmation_sentence({**confirmed, **over_lucent}).endswith(
        "sees the change too, but its lungs are darker than those of 100 % of real normal films")
    assert confirmation_sentence({**confirmed, **nothing_added, "against_opacity": "darkening"}).endswith(
        "but its lungs are still darker than those of 100 % of real pneumonia films")
    both = {**confirmed, **over_lucent, "against_opacity_share": 0.8}  # one 'but', then 'and'
    assert confirmation_sentence(both).endswith("but most of the change is not an opacity cleared, and its lungs are "
                                                "darker than those of 100 % of real normal films")
    assert not convincing({**confirmed, **over_lucent}) and convincing({**confirmed, **within})
    assert confirmation_words({**confirmed, **over_lucent}) == "confirmed, with reservations"
    assert confirmation_words({**confirmed, **within}) == "confirmed" and not caveats({**confirmed, **within})
    assert len(expert_checks({**confirmed, **over_lucent})) == 2 and len(expert_checks(confirmed)) == 1
    assert realism_words(confirmed) == ""  # no reference installed: nothing is claimed


def test_a_bank_with_its_films_lung_contrast_puts_the_check_in_the_metrics(trained, vae) -> None:
    model, _ = trained
    rng = np.random.default_rng(5)
    bank = _bank(vae, rng)
    image = _image(rng, True)
    search = SearchSettings(method="data-supported", compose="delta", region="lungs", target_probability=0.2, steps=60)
    assert "lung_contrast" not in generate(model, vae, image, search=search, bank=bank).metrics  # an older bank
    bank.lung_contrast = {0: np.linspace(-0.2, 0.0, 50), 1: np.linspace(-0.1, 0.1, 50)}
    m = generate(model, vae, image, search=search, bank=bank).metrics
    assert m["lung_contrast_target"] == model.labels[0] and m["lung_contrast_side"] == "darker"
    assert 0 <= m["lung_contrast_percentile"] <= 100 and m["lung_contrast_reference"] == 50
