"""Where a saliency map's evidence lies: border band, burned-in markers, outside the lung fields."""

from __future__ import annotations

import numpy as np
import pytest

from cfx_desktop.core.imaging.explain import shortcuts


def _film() -> tuple[np.ndarray, np.ndarray]:
    """A 128 px 'film': grey body, dark air at the sides, two dark lungs, and a bright 'R' marker on the air."""
    film = np.full((128, 128), 0.1, dtype=np.float64)
    film[:, 20:108] = 0.6
    lungs = np.zeros((128, 128), dtype=bool)
    lungs[30:100, 30:58] = lungs[30:100, 70:98] = True
    film[lungs] = 0.35
    film[8:14, 6:8] = film[8:10, 6:11] = film[11:13, 8:11] = 0.95  # the marker's strokes
    return film, lungs


def test_the_marker_is_found_and_the_lungs_are_not() -> None:
    film, lungs = _film()
    found = shortcuts.marker_mask(film, lungs)
    assert found[8:14, 6:11].any() and not (found & lungs).any()
    assert found.sum() < 150


@pytest.mark.parametrize("where, key", [("lungs", None), ("border", "border"), ("marker", "markers")])
def test_evidence_shares_say_where_the_map_points(where: str, key: str | None) -> None:
    film, lungs = _film()
    values = np.zeros_like(film)
    if where == "lungs":
        values[lungs] = 1.0
    elif where == "border":
        values[:, :5] = 1.0
    else:
        values[9:13, 6:10] = 1.0
    shares = shortcuts.evidence_shares(values, film, lungs)
    if key is None:
        assert shares["outside_lungs"] == 0 and shares["border"] == 0 and shares["markers"] == 0
        assert "outside the lungs" not in shortcuts.describe(shares).split(":", 1)[-1]
    else:
        assert shares[key] > 0.9 and shares["outside_lungs"] == 1.0
        assert "most of the evidence lies outside the lungs" in shortcuts.describe(shares)


def test_an_empty_map_has_no_evidence_anywhere() -> None:
    film, lungs = _film()
    assert shortcuts.evidence_shares(np.zeros_like(film), film, lungs) == {"border": 0.0, "markers": 0.0, "outside_lungs": 0.0}
