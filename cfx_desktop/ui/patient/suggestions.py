"""The counterfactual suggestions panel: method and constraint controls, then one row per suggestion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from cfx_desktop.ui import theme
from cfx_desktop.core.tabular.counterfactuals import METHODS
from cfx_desktop.core.tabular.schema import Schema
from cfx_desktop.ui.patient.search_settings import SearchSettingsBar
from cfx_desktop.core.tabular.wording import (CAVEAT, capitalised, change_text, is_what_if, not_offered_reason,
                                              plausibility_text, robustness_words, suggestion_text, tier_words)

if TYPE_CHECKING:  # results come from the worker pool, which has imported these
    from cfx_desktop.core.tabular.live import SuggestionResult

COLUMNS = ["What would change", "p after", "Holds for", "Changes", "Distance", "Plausibility", ""]
COLUMN_TIPS = ["The change, worded as target states", "The selected model's probability after the change",
               "How many of the 20 models of the set predict the new outcome, and how often measurement noise undoes it",
               "How many features change", "How far the patient moves: percentile points of the training patients per "
               "numeric feature (25 points count as 1), 1 per changed category",
               "Typical; a large change (a feature moves more than the cap in percentile points among patients like "
               "this one in age and sex); an outlier end point (local outlier factor); or an unusual patient (the "
               "patient was already an outlier before the change)",
               "Put the suggestion into the form (or select its row and press Enter); Ctrl+Z undoes it"]
GRADE_COLOURS = {"solid": "good", "partial": "warn", "weak": "bad", "none": "muted"}  # theme colour names


def robustness_text(r: dict[str, float]) -> tuple[str, str, str]:
    """(badge, tooltip, colour) for a suggestion's robustness against the model set."""
    badge, tip, grade = robustness_words(r)
    return badge, tip, theme.colour(GRADE_COLOURS[grade])


class SuggestionsPanel(QWidget):
    apply_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.controls = SearchSettingsBar(self)  # the tab and the tests reach its parts through the panel
        bar = self.controls
        self.method, self.k, self.max_changes, self.margin = bar.method, bar.k, bar.max_changes, bar.margin
        self.consensus, self.max_shift, self.markers, self.busy = bar.consensus, bar.max_shift, bar.markers, bar.busy
        self.settings_changed, self.settings, self.show_settings = bar.settings_changed, bar.settings, bar.show_settings
        self.list_methods, self.set_feature_count, self.set_busy = bar.list_methods, bar.set_feature_count, bar.set_busy
        layout.addWidget(bar)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(c).setToolTip(tip)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the first column wraps instead
        self.table.setMinimumHeight(120)  # the header and two suggestions, even on a 720 px screen
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        # keyboard: Tab moves on to the next control instead of walking cells; arrows choose a suggestion and
        # Enter (or Space) applies it, like the row's Apply button
        self.table.setTabKeyNavigation(False)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            QShortcut(QKeySequence(key), self.table, activated=self.apply_current,
                      context=Qt.ShortcutContext.WidgetShortcut)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeaderItem(0).setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        # the first column wraps: when the window (and so the column) narrows, the rows must grow, not elide
        header.sectionResized.connect(self._fit_rows)
        layout.addWidget(self.table)
        self.caveat = QLabel(f"<i>{CAVEAT}</i>", self)
        self.caveat.setWordWrap(True)
        layout.addWidget(self.caveat)
        self.result: SuggestionResult | None = None

    def _fit_rows(self, column: int, _old: int, _new: int) -> None:
        if column == 0:  # after the layout settles: mid-resize, the other columns still have their old widths
            QTimer.singleShot(0, self.table.resizeRowsToContents)

    def apply_current(self) -> bool:
        """Apply the focused suggestion, if it is offered (an outlier row has no Apply and is not applied)."""
        row = self.table.currentRow()
        if row < 0 or not isinstance(self.table.cellWidget(row, len(COLUMNS) - 1), QPushButton):
            return False
        self.table.setCurrentCell(-1, -1)  # a second Enter must not apply another row to the changed patient
        self.apply_requested.emit(row)
        return True

    def show_result(self, result: SuggestionResult, schema: Schema) -> None:
        """One row per suggestion. For a patient already predicted the favourable outcome the rows are risk
        what-ifs ("the prediction would turn to death if ..."), headed and coloured apart from recourse."""
        self.result = result
        cfs = result.counterfactuals
        what_if = is_what_if(schema, result.outcome)
        header = self.table.horizontalHeaderItem(0)
        # a later tier: a quorum of the set, or no margin ("fragile": the status line says why, the header has no room)
        tier = "fragile" if cfs.without_margin else tier_words(cfs[0]) if cfs else ""
        header.setText("Risk what-if (not advice)" if what_if else
                       f"Change ({tier})" if tier else COLUMNS[0])  # short: it must fit at 1280 x 720
        self.table.setRowCount(len(cfs))
        cap = result.constraints.max_shift
        for row, cf in enumerate(cfs):
            badge, tip, colour = robustness_text(cf.robustness)
            outlier = bool(cf.metrics.get("lof_outlier"))
            plausibility = plausibility_text(cf.metrics, schema, cap)
            values = [suggestion_text(schema, cf, result.outcome), f"{cf.probability:.2f}", badge, f"{cf.l0}",
                      f"{cf.metrics.get('distance', 0):.2f}", plausibility.split(" (")[0]]  # the figures are in the tooltip
            tips = {0: cf.summary(result.outcome), 2: tip, 5: plausibility}
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(tips.get(col, text))
                if col == 2:
                    item.setForeground(QColor(colour))
                if (col == 0 and what_if) or (col == 5 and plausibility.startswith("large change")):
                    item.setForeground(QColor(theme.colour("warn")))
                if outlier:
                    item.setForeground(QColor(theme.colour("muted")))
                self.table.setItem(row, col, item)
            if outlier or what_if:  # shown, so the user sees what the model would need, but never offered to apply
                note = QLabel("what-if" if what_if and not outlier else "not offered", self.table)
                note.setToolTip("A risk what-if describes the model, not something to do; it is not put into the form."
                                if what_if and not outlier else f"{capitalised(not_offered_reason(cf.metrics))}.")
                note.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setCellWidget(row, len(COLUMNS) - 1, note)
                continue
            button = QPushButton("Apply", self.table)
            button.setToolTip("Put this suggestion into the form (Undo restores the patient)")
            button.clicked.connect(lambda _=False, i=row: self.apply_requested.emit(i))
            self.table.setCellWidget(row, len(COLUMNS) - 1, button)
        self.table.resizeRowsToContents()
        self.table.setCurrentCell(-1, -1)  # new rows for a new patient: nothing is chosen until the user chooses
        self.table.scrollToTop()
        self.table.horizontalScrollBar().setValue(0)
        where = f" Reference cohort: {result.reference_source}." if result.reference_source else ""
        unusual = result.typicality.words() if result.typicality is not None else ""
        if unusual:  # a line of its own under the status, in every state: it qualifies the prediction and every row
            where += f"<br><span style='color: {theme.colour('warn')}'><b>Unusual patient.</b> {unusual}</span>"
        note = f" <i>Note: {cfs.note}.</i>" if cfs.note else ""
        if cfs and what_if:
            self.status.setText(f"<span style='color: {theme.colour('warn')}'><b>Risk what-ifs, not advice.</b></span> "
                                f"This patient is predicted <b>{schema.outcome_words[0]}</b>; each row says what would turn "
                                f"the prediction to <b>{result.outcome}</b> ({cfs.seconds * 1000:.0f} ms).{note}{where}")
        elif cfs:
            partial = cfs.quorum
            reached = f"{partial[0]} of the {partial[1]}" if partial else f"all {result.set_size}"
            scope = (f"at the thresholds of {reached} models of the set, <b>without the margin: fragile</b>, see "
                     "'Holds for'" if cfs.without_margin else
                     f"for <b>{partial[0]} of the {partial[1]} models</b> of the set, <b>partial agreement</b>: less "
                     "certain, see 'Holds for'" if partial else
                     f"for all {result.set_size} models of the set" if result.consensus and result.set_size
                     else "for <b>this model only</b> (fragile: see 'Holds for')")
            self.status.setText(f"{len(cfs)} suggestion{'s that flip' if len(cfs) > 1 else ' that flips'} the prediction to "
                                f"<b>{result.outcome}</b> {scope} ({METHODS.get(result.method).label}, "
                                f"{cfs.seconds * 1000:.0f} ms).{note}{where}")
        else:
            why = capitalised(cfs.reason or "")
            why += "." if why and not why.endswith((".", "!", "?")) else ""  # the reference line follows it
            self.status.setText(f"<b>No suggestion.</b> {why}{where}")

    def clear(self, message: str) -> None:
        self.result = None
        self.table.setRowCount(0)
        self.status.setText(message)
