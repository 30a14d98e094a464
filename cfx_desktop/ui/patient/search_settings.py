"""The suggestions panel's search settings: method, consensus, how many options, how many changes, how big a
change, margin, markers; and the busy bar. Two rows, so the panel still fits a 1280 px screen: what to search,
then how strictly. `settings()` gives `PatientSession.set_settings` keywords; `show_settings` shows the session's."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QProgressBar, QSpinBox, QVBoxLayout, QWidget

from cfx_desktop.core.tabular.counterfactuals import METHODS
from cfx_desktop.core.tabular.counterfactuals.feasibility import DEFAULT_MAX_SHIFT
from cfx_desktop.ui.busy import DelayedBusy


class SearchSettingsBar(QWidget):
    settings_changed = Signal()

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
        self._delayed_busy = DelayedBusy(self, self.busy.setVisible)
        controls.addWidget(self.busy)
        layout.addLayout(controls)
        limits = QHBoxLayout()
        for w in (self.k, self.max_changes, self.max_shift, self.margin, self.markers):
            limits.addWidget(w)
        limits.addStretch(1)
        layout.addLayout(limits)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.consensus.currentIndexChanged.connect(lambda _: self.settings_changed.emit())
        self.markers.toggled.connect(lambda _: self.settings_changed.emit())
        for w in (self.k, self.max_changes, self.max_shift):
            w.valueChanged.connect(self.settings_changed)
        self.margin.valueChanged.connect(self.settings_changed)

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
        self._delayed_busy.set(busy)  # a search of a tenth of a second shows no bar (`ui.busy`)
