"""File > Open from PACS...: the study browser. It lays out the peer, the filters, the studies found, the job's
progress with Cancel, and receive mode, forwards clicks to `sessions.pacs.PacsSession` and renders its events;
every network step runs in the worker pool through the session's scheduler."""

from __future__ import annotations


from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMessageBox, QProgressBar,
    QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from cfx_desktop.pacs.dimse import Study, StudyFilter
from cfx_desktop.sessions.pacs import PacsSession, Status
from cfx_desktop.ui.xray.pacs_receive import ReceiveRow

COLUMNS = ("Patient ID", "Name", "Date", "Modalities", "Images", "Description")
SERIES_COLUMNS = ("Series", "Modality", "Images", "Description")
MODALITIES = ("", "CR", "DX", "CT", "MR", "US", "OT")


class PacsDialog(QDialog):
    folder_ready = Signal(object)  # Path: a retrieved study or the inbox, for the folder view

    def __init__(self, session: PacsSession, settings, parent: QWidget | None = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.session, self.settings = session, settings
        layout = QVBoxLayout(self)
        layout.addLayout(self._peer_row())
        layout.addLayout(self._filter_row())
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _index: self._retrieve())
        layout.addWidget(self.table, 1)
        self.series = QTableWidget(0, len(SERIES_COLUMNS), self)  # the selected study's series (C-FIND, series level)
        self.series.setHorizontalHeaderLabels(SERIES_COLUMNS)
        self.series.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.series.horizontalHeader().setSectionResizeMode(len(SERIES_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.series.setMaximumHeight(120)
        layout.addWidget(self.series)
        self.table.currentCellChanged.connect(lambda row, *_: self._study_chosen(row))
        layout.addLayout(self._action_row())
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.receive_row = ReceiveRow(session, settings, self.own_ae, self)
        self.receive_row.folder_ready.connect(self.folder_ready)
        r = self.receive_row  # the tests and the screenshots reach these through the dialog
        self.receive, self.host, self.port, self.inbox = r.receive, r.host, r.port, r.inbox
        layout.addWidget(self.receive_row)
        session.status_changed.connect(self._on_status)
        session.studies_changed.connect(self._on_studies)
        session.study_ready.connect(lambda _uid, folder: self.folder_ready.emit(folder))
        session.series_changed.connect(self._on_series)
        self._on_status(session.status)
        self.resize(900, 520)

    # ----- layout -------------------------------------------------------------------------------------------
    def _peer_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.peer = QLineEdit(str(self.settings.value("pacs/peer", "")), self)
        self.peer.setPlaceholderText("AET@HOST:PORT, e.g. ORTHANC@192.168.1.20:4242, or an https DICOMweb address")
        self.own_ae = QLineEdit(str(self.settings.value("pacs/own_ae", "CFX_DESKTOP")), self)
        self.own_ae.setMaximumWidth(140)
        self.own_ae.setToolTip("This app's AE title (the PACS must know it for stores and C-MOVE)")
        self.move_port = QSpinBox(self)  # 0: C-GET only
        self.move_port.setRange(0, 65535)
        self.move_port.setSpecialValueText("C-GET only")
        self.move_port.setValue(int(self.settings.value("pacs/move_port", 0)))
        self.move_port.setToolTip("For a PACS without C-GET: the port on which this app receives a C-MOVE (the PACS "
                                  "must know this app's AE title, this host and this port). 'C-GET only': no C-MOVE.")
        self.test_button = QPushButton("&Test", self)
        self.test_button.setToolTip("C-ECHO: does the PACS answer?")
        self.test_button.clicked.connect(lambda: self._configured() and self.session.test())
        row.addWidget(QLabel("PACS:", self))
        row.addWidget(self.peer, 1)
        row.addWidget(QLabel("own AE title:", self))
        row.addWidget(self.own_ae)
        row.addWidget(QLabel("C-MOVE port:", self))
        row.addWidget(self.move_port)
        row.addWidget(self.test_button)
        return row

    def _filter_row(self) -> QGridLayout:
        grid = QGridLayout()
        self.patient_id, self.patient_name, self.date = QLineEdit(self), QLineEdit(self), QLineEdit(self)
        self.patient_name.setPlaceholderText("DOE^* (wildcards allowed)")
        self.date.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.modality = QComboBox(self)
        for value in MODALITIES:
            self.modality.addItem(value or "any", value)
        self.search_button = QPushButton("&Search", self)
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self._search)
        for column, (label, widget) in enumerate((("Patient ID", self.patient_id), ("Name", self.patient_name),
                                                  ("Date", self.date), ("Modality", self.modality))):
            grid.addWidget(QLabel(label, self), 0, column)
            grid.addWidget(widget, 1, column)
        grid.addWidget(self.search_button, 1, 4)
        return grid

    def _action_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.open_button = QPushButton("&Open study", self)
        self.open_button.setToolTip("Retrieve the study (C-GET) into the local cache and show it in the folder view")
        self.open_button.clicked.connect(self._retrieve)
        self.send_button = QPushButton("&Analyse and send results...", self)
        self.send_button.setToolTip("Analyse every image of the retrieved study and store the SRs and explanation "
                                    "images in the PACS (asks first)")
        self.send_button.clicked.connect(self._send)
        self.with_counterfactual = QCheckBox("with counterfactual images", self)
        self.with_counterfactual.setToolTip("Make and send each image's counterfactual comparison too (seconds per image "
                                            "on a CPU); without it the SR says the counterfactual was not made")
        self.with_counterfactual.setChecked(str(self.settings.value("pacs/counterfactual", "true")) == "true")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.session.cancel)
        row.addWidget(self.open_button)
        row.addWidget(self.send_button)
        row.addWidget(self.with_counterfactual)
        row.addStretch(1)
        row.addWidget(self.cancel_button)
        return row

    # ----- user actions -------------------------------------------------------------------------------------
    def _configured(self) -> bool:
        self.settings.setValue("pacs/peer", self.peer.text().strip())
        self.settings.setValue("pacs/own_ae", self.own_ae.text().strip())
        self.settings.setValue("pacs/move_port", self.move_port.value())
        self.settings.setValue("pacs/counterfactual", "true" if self.with_counterfactual.isChecked() else "false")
        self.session.move_port = self.move_port.value() or None
        self.session.counterfactual = self.with_counterfactual.isChecked()
        return self.session.configure(self.peer.text(), self.own_ae.text() or "CFX_DESKTOP")

    def _search(self) -> None:
        if self._configured():
            self.session.search(StudyFilter(self.patient_id.text().strip(), self.patient_name.text().strip(),
                                            self.date.text().strip(), self.modality.currentData()))

    def selected_study(self) -> Study | None:
        row = self.table.currentRow()
        return self.session.studies[row] if 0 <= row < len(self.session.studies) else None

    def _retrieve(self) -> None:
        study = self.selected_study()
        if study is not None and self._configured():
            self.session.retrieve(study.uid)

    def _send(self, confirm=None) -> None:  # noqa: ANN001 - a test's stand-in for the question box
        study = self.selected_study()
        if study is None or not self._configured():
            return
        what = "saliency and counterfactual images" if self.session.counterfactual else "saliency image"
        question = (f"Analyse the {study.instances or ''} images of {study.patient_id}'s study of {study.date} and store "
                    f"the results (one SR per image, with its {what}) in {self.session.peer}?")
        ask = confirm or (lambda text: QMessageBox.question(self, "Send results to the PACS", text)
                          == QMessageBox.StandardButton.Yes)
        if ask(question):
            self.session.analyse_and_send(study.uid)

    # ----- rendering ----------------------------------------------------------------------------------------
    def _on_status(self, status: Status) -> None:
        self.status.setText(status.message)
        colour = {"failed": "#b00020", "done": "#1b7a2f"}.get(status.state, "")
        self.status.setStyleSheet(f"color: {colour}; font-weight: bold;" if colour else "")
        self.progress.setVisible(status.running)
        self.progress.setValue(int(status.fraction * 100))
        self.cancel_button.setEnabled(status.running)
        for button in (self.test_button, self.search_button, self.open_button, self.send_button):
            button.setEnabled(not status.running)

    def _on_studies(self, studies: list[Study]) -> None:
        self.table.setRowCount(len(studies))
        for row, s in enumerate(studies):
            date = f"{s.date[:4]}-{s.date[4:6]}-{s.date[6:]}" if len(s.date) == 8 else s.date
            values = (s.patient_id, s.patient_name.replace("^", " "), date, ", ".join(s.modalities),
                      "" if s.instances is None else str(s.instances), s.description)
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        if studies:
            self.table.selectRow(0)
        self.table.resizeColumnsToContents()

    def _study_chosen(self, row: int) -> None:
        self.series.setRowCount(0)
        if 0 <= row < len(self.session.studies):
            self.session.list_series(self.session.studies[row].uid)

    def _on_series(self, study_uid: str, found: list) -> None:
        study = self.selected_study()
        if study is None or study.uid != study_uid:
            return  # the answer for a study no longer selected
        self.series.setRowCount(len(found))
        for row, ds in enumerate(found):
            values = (str(ds.get("SeriesNumber", "") or ""), str(ds.get("Modality", "") or ""),
                      str(ds.get("NumberOfSeriesRelatedInstances", "") or ""), str(ds.get("SeriesDescription", "") or ""))
            for column, value in enumerate(values):
                self.series.setItem(row, column, QTableWidgetItem(value))
