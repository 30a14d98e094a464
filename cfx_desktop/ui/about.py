"""Help dialogs: About (version, device, model cards, data attributions) and the shortcut list."""

from __future__ import annotations

import html

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

import sys

from cfx_desktop import __version__
from cfx_desktop.core import bundles, device


def _attributions() -> list[dict[str, str]]:
    """Every dataset behind what is installed: the registered tabular datasets, and the data named by the image
    models' cards (so a new dataset or model brings its own citation, and no list is kept by hand)."""
    from cfx_desktop.core.imaging.models.classifier import image_models
    from cfx_desktop.core.tabular.datasets import DATASETS

    found = [{"name": d.title, "citation": d.attribution, "licence": d.licence} for d in DATASETS.values()]
    for name, card in image_models():
        entry = {"name": f"data of {card.get('label', name)}", "citation": str(card.get("attribution", "")),
                 "licence": str(card.get("licence", ""))}
        if entry["citation"] and all(e["citation"] != entry["citation"] for e in found):
            found.append(entry)
    return found


def extensions_html() -> str:
    """What each registry holds: the extension points a developer can add to (README, "Extending")."""
    from cfx_desktop.core.imaging.models.classifier import IMAGE_ARCHITECTURES
    from cfx_desktop.core.imaging.explain.saliency import SALIENCY_METHODS
    from cfx_desktop.core.tabular.counterfactuals import METHODS
    from cfx_desktop.core.tabular.datasets import variants
    from cfx_desktop.core.tabular.models import ARCHITECTURES

    rows = [("Datasets", [v.label for _, v in variants()]), ("Patient model architectures", [a.ui_label for a in ARCHITECTURES.values()]),
            ("Counterfactual methods", [m.label for m in METHODS.values()]), ("Saliency methods", [m.label for m in SALIENCY_METHODS.values()]),
            ("Image architectures", [a.label for a in IMAGE_ARCHITECTURES.values()])]
    return "<ul>" + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(', '.join(v))}</li>" for k, v in rows) + "</ul>"


def model_cards_html() -> str:
    rows = []
    try:
        names = bundles.list_bundles()
    except bundles.BundleError as exc:
        return f"<p><b>Weights manifest problem:</b> {html.escape(str(exc))}</p>"
    for name in names:
        try:
            card = bundles.read_card(name)
        except bundles.BundleError as exc:
            rows.append(f"<tr><td>{html.escape(name)}</td><td colspan=3>refused: {html.escape(str(exc))}</td></tr>")
            continue
        metrics = card.get("metrics_summary") or ""
        rows.append(
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                html.escape(name),
                html.escape(str(card.get("task", ""))),
                html.escape(str(metrics)),
                html.escape(str(card.get("licence", ""))),
            )
        )
    if not rows:
        return "<p>No model bundles are installed yet.</p>"
    return "<table border=1 cellpadding=4 cellspacing=0><tr><th>model</th><th>task</th><th>validation</th><th>licence</th></tr>{}</table>".format(
        "".join(rows)
    )


def about_html() -> str:
    data = "".join(
        f"<li><b>{html.escape(d['name'])}</b>: {html.escape(d['citation'])} Licence: {html.escape(d['licence'])}.</li>"
        for d in _attributions()
    )
    compat_module = sys.modules.get("cfx_desktop._torchvision_compat")  # loaded only if an architecture needed torchvision
    patched = bool(compat_module and compat_module.patched)
    compat = " (torchvision compiled ops unavailable with this torch build; not used)" if patched else ""
    return (
        f"<h2>cfx-desktop {__version__}</h2>"
        "<p>Offline explanations and counterfactuals for clinical tabular data and chest X-rays. "
        "<b>Research and teaching tool: not a medical device; not for diagnosis.</b></p>"
        f"<p>Compute device: {html.escape(device.describe())}{compat}</p>"
        f"<h3>Model cards</h3>{model_cards_html()}"
        f"<h3>Data attributions</h3><ul>{data or '<li>none listed</li>'}</ul>"
        f"<h3>Installed extensions</h3>{extensions_html()}"
    )


def _text_dialog(parent: QWidget | None, title: str, body: str) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.resize(760, 560)
    layout = QVBoxLayout(dialog)
    browser = QTextBrowser(dialog)
    browser.setOpenExternalLinks(False)  # offline tool: nothing opens a network location
    browser.setHtml(body)
    layout.addWidget(browser)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    return dialog


def about_dialog(parent: QWidget | None) -> QDialog:
    return _text_dialog(parent, "About cfx-desktop", about_html())


def all_shortcuts(window: QWidget, tabs: list) -> list[tuple[str, str]]:  # noqa: ANN001 - ToolTabs
    """Every key the window answers: its actions' shortcuts, then each tab's own keys, named by the tab."""
    items: list[tuple[str, str]] = []
    for action in window.findChildren(QAction):
        if not action.shortcut().isEmpty():
            items.append((action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), action.text().replace("&", "")))
    for tab in tabs:
        items.extend((key, f"{tab.title}: {text}") for key, text in tab.shortcuts())
    return items


def shortcuts_dialog(parent: QWidget | None, shortcuts: list[tuple[str, str]]) -> QDialog:
    rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(v)}</td></tr>" for k, v in shortcuts)
    return _text_dialog(parent, "Keyboard shortcuts", f"<table cellpadding=4>{rows}</table>")
