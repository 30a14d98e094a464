"""The counterfactual suggestions panel: method and constraint controls, then one row per suggestion."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QSpinBox,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.ui import theme
from cfx_desktop.core.tabular.counterfactuals import METHODS
from cfx_desktop.core.tabular.schema import Schema
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.core.tabular.wording import CAVEAT, change_text, is_what_if, plausibility_text, robustness_words, suggestion_text

if TYPE_CHECKING:  # results come from the worker pool, which has imported these
    from cfx_desktop.core.tabular.live import SuggestionResult

COLUMNS = ["What would change", "p after", "Holds for", "Changes", "Distance", "Plausibility", ""]
COLUMN_TIPS = ["The change, worded as target states", "The selected model's probability after the change",
               "How many of the 20 models of the set predict the new outcome, and how often measurement noise undoes it",
               "How many features change", "How far the patient moves: percentile points of the training patients per "
               "numeric feature (25 points count as 1), 1 per changed category",
               "Typical; a large change (a feature moves more than the cap in percentile points among patients like "
               "this one in age and sex); or an outlier end point (local outlier factor)",
               "Put the suggestion into the form (or select its row and press Enter); Ctrl+Z undoes it"]
GRADE_COLOURS = {"solid": "good", "partial": "warn", "weak": "bad", "none": "muted"}  # theme colour names


def robustness_text(r: dict[str, float]) -> tuple[str, str, str]:
    """(badge, tooltip, colour) for a suggestion's robustness against the model set."""
    badge, tip, grade = robustness_words(r)
    return badge, tip, theme.colour(GRADE_COLOURS[grade])


class SuggestionsPanel(QWidget):
    settings_changed = Signal()
    apply_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        controls = QHBoxLayout()
        self.method = QComboBox(self)
        self.method.addItem("loading models...", None)  # `list_methods` fills it once the worker pool has loaded them
        self.method.setEnabled(False)
        self.method.setToolTip("Counterfactual method: how suggestions are searched for (listed once the models load)")
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.k = QSpinBox(self)
        self.k.setRange(1, 6)
        self.k.setValue(3)
        self.k.setPrefix("k = ")
        self.k.setToolTip("How many suggestions to look for (methods that give one answer ignore it)")
        self.max_changes = QSpinBox(self)
        self.max_changes.setRange(0, 1)  # up to the schema's feature count: set_feature_count
        self.max_changes.setSpecialValueText("any number")
        self.max_changes.setPrefix("max changes: ")
        self.max_changes.setToolTip("At most this many features may change in one suggestion")
        self.margin = QDoubleSpinBox(self)
        self.margin.setRange(0.0, 0.4)
        self.margin.setSingleStep(0.01)
        self.margin.setDecimals(2)
        self.margin.setPrefix("margin: ")
        self.margin.setToolTip("How far past its own decision threshold every model must be moved (the default is chosen "
                               "on validation data: the probability shift measurement noise causes, at least 0.05)")
        self.consensus = QComboBox(self)
        for members, label in ((1, "consensus: 4 architectures"), (2, "consensus: 8 models"),
                               (5, "consensus: all 20 models"), (0, "this model only (fragile)")):
            self.consensus.addItem(label, members)
        self.consensus.setToolTip("Consensus: every model of the set (each architecture, with 1, 2 or 5 bootstrap members) "
                                  "must predict the new outcome past its own threshold by the margin. 'This model only' "
                                  "describes one network, not the data. 'Holds for' is always judged by all 20 models.")
        self.max_shift = QSpinBox(self)
        self.max_shift.setRange(10, 101)
        self.max_shift.setSingleStep(10)
        self.max_shift.setValue(int(DEFAULT_MAX_SHIFT))
        self.max_shift.setSpecialValueText("how big a change: any size")  # 101: no cap, no feasible-change limit
        self.max_shift.setPrefix("how big a change: ")
        self.max_shift.setSuffix(" pct points")
        self.max_shift.setToolTip("The largest change of any one feature, in percentile points of the training patients "
                                  "(50: at most half of the population passed). Each feature also moves at most its feasible "
                                  "change (the schema's; by default one interquartile range). Turn it to 'any size' "
                                  "to see what the model would need regardless.")
        self.markers = QCheckBox("allow markers", self)
        self.markers.setToolTip("Also change observational markers (e.g. CPK, platelets): readings nobody treats toward a value")
        # two rows, so the panel (and the window) still fits a 1280 px screen: what to search / how strictly
        for w in (self.method, self.consensus):
            controls.addWidget(w)
        controls.addStretch(1)
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(90)
        self.busy.setVisible(False)
        controls.addWidget(self.busy)
        layout.addLayout(controls)
        limits = QHBoxLayout()
        for w in (self.k, self.max_changes, self.max_shift, self.margin, self.markers):
            limits.addWidget(w)
        limits.addStretch(1)
        layout.addLayout(limits)
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
        layout.addWidget(self.table)
        self.caveat = QLabel(f"<i>{CAVEAT}</i>", self)
        self.caveat.setWordWrap(True)
        layout.addWidget(self.caveat)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.consensus.currentIndexChanged.connect(lambda _: self.settings_changed.emit())
        self.markers.toggled.connect(lambda _: self.settings_changed.emit())
        for w in (self.k, self.max_changes, self.max_shift):
            w.valueChanged.connect(self.settings_changed)
        self.margin.valueChanged.connect(self.settings_changed)
        self.result: SuggestionResult | None = None

    def apply_current(self) -> bool:
        """Apply the focused suggestion, if it is offered (an outlier row has no Apply and is not applied)."""
        row = self.table.currentRow()
        if row < 0 or not isinstance(self.table.cellWidget(row, len(COLUMNS) - 1), QPushButton):
            return False
        self.table.setCurrentCell(-1, -1)  # a second Enter must not apply another row to the changed patient
        self.apply_requested.emit(row)
        return True

    def list_methods(self, chosen: str) -> None:
        """Fill the Method box from the registry (read only after the worker pool has imported the methods)."""
        self.method.blockSignals(True)
        self.method.clear()
        for key, spec in METHODS.items():
            self.method.addItem(spec.label, key)
        self.method.setToolTip("\n".join(f"{spec.label}: {spec.description}" for spec in METHODS.values()))
        self.method.setCurrentIndex(max(0, self.method.findData(chosen)))
        self.method.setEnabled(True)
        self.method.blockSignals(False)
        self.k.setEnabled(METHODS.get(self.method.currentData()).uses_k)

    def _method_changed(self) -> None:
        if self.method.currentData() is not None:
            self.k.setEnabled(METHODS.get(self.method.currentData()).uses_k)
        self.settings_changed.emit()

    def set_feature_count(self, count: int) -> None:
        self.max_changes.setMaximum(count)

    def settings(self) -> dict[str, object]:
        """What the controls ask for, as `PatientSession.set_settings` keywords (no method until they load)."""
        chosen = {"method": self.method.currentData()} if self.method.currentData() is not None else {}
        cap = self.max_shift.value()
        return {**chosen, "k": self.k.value(), "max_changes": self.max_changes.value() or None,
                "max_shift": None if cap > 100 else float(cap),
                "margin": self.margin.value(), "consensus": bool(self.consensus.currentData()),
                "consensus_members": int(self.consensus.currentData()) or 1, "allow_markers": self.markers.isChecked()}

    def show_settings(self, settings) -> None:  # noqa: ANN001 - sessions.patient.SuggestionSettings
        """Show the session's settings without emitting `settings_changed`."""
        for widget in (self.method, self.k, self.max_changes, self.max_shift, self.margin, self.consensus, self.markers):
            widget.blockSignals(True)
        if self.method.isEnabled():
            self.method.setCurrentIndex(self.method.findData(settings.method))
        self.k.setValue(settings.k)
        self.max_changes.setValue(settings.max_changes or 0)
        self.max_shift.setValue(101 if settings.max_shift is None else int(round(settings.max_shift)))
        self.margin.setValue(settings.margin)
        self.consensus.setCurrentIndex(self.consensus.findData(settings.consensus_members if settings.consensus else 0))
        self.markers.setChecked(settings.allow_markers)
        for widget in (self.method, self.k, self.max_changes, self.max_shift, self.margin, self.consensus, self.markers):
            widget.blockSignals(False)
        if self.method.isEnabled():
            self.k.setEnabled(METHODS.get(settings.method).uses_k)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def show_result(self, result: SuggestionResult, schema: Schema) -> None:
        """One row per suggestion. For a patient already predicted the favourable outcome the rows are risk
        what-ifs ("the prediction would turn to death if ..."), headed and coloured apart from recourse."""
        self.result = result
        cfs = result.counterfactuals
        what_if = is_what_if(schema, result.outcome)
        header = self.table.horizontalHeaderItem(0)
        header.setText("Risk what-if (not advice)" if what_if else COLUMNS[0])
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
                                if what_if and not outlier else
                                "Unlike the training patients (local outlier factor): a patient like this was never seen, "
                                "so the model's answer there is not to be trusted.")
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
        note = f" <i>Note: {cfs.note}.</i>" if cfs.note else ""
        if cfs and what_if:
            self.status.setText(f"<span style='color: {theme.colour('warn')}'><b>Risk what-ifs, not advice.</b></span> "
                                f"This patient is predicted <b>{schema.outcome_words[0]}</b>; each row says what would turn "
                                f"the prediction to <b>{result.outcome}</b> ({cfs.seconds * 1000:.0f} ms).{note}{where}")
        elif cfs:
            scope = (f"for all {result.set_size} models of the set" if result.consensus and result.set_size
                     else "for <b>this model only</b> (fragile: see 'Holds for')")
            self.status.setText(f"{len(cfs)} suggestion{'s that flip' if len(cfs) > 1 else ' that flips'} the prediction to "
                                f"<b>{result.outcome}</b> {scope} ({METHODS.get(result.method).label}, "
                                f"{cfs.seconds * 1000:.0f} ms).{note}{where}")
        else:
            self.status.setText(f"<b>No suggestion.</b> {cfs.reason}")

    def clear(self, message: str) -> None:
        self.result = None
        self.table.setRowCount(0)
        self.status.setText(message)
