"""The study browser's receive row: receive mode on or off, where the storage SCP listens (this computer only
unless the user chooses every interface), its port, and Show inbox. Once the inbox is shown, the folder view
follows it: each burst of arrivals (announced by `PacsSession.inbox_changed`) is shown and analysed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from cfx_desktop.sessions.pacs import PacsSession


class ReceiveRow(QWidget):
    folder_ready = Signal(object)  # Path: the inbox, for the folder view

    def __init__(self, session: PacsSession, settings: Any, own_ae: Any, parent: QWidget | None = None) -> None:  # noqa: ANN401
        super().__init__(parent)
        self.session, self.settings, self.own_ae = session, settings, own_ae
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.receive = QCheckBox("Receive images (storage SCP on", self)
        self.host = QComboBox(self)  # loopback unless the user chooses otherwise
        self.host.addItem("127.0.0.1 (this computer only)", "127.0.0.1")
        self.host.addItem("0.0.0.0 (every network interface)", "0.0.0.0")
        self.host.setToolTip("Where the storage SCP listens. On every network interface, any computer that can reach "
                             "this one may send images to it: choose that only on a trusted network")
        self.host.setCurrentIndex(max(0, self.host.findData(str(self.settings.value("pacs/receive_host", "127.0.0.1")))))
        self.port = QSpinBox(self)
        self.port.setRange(1, 65535)
        self.port.setValue(int(self.settings.value("pacs/receive_port", 11112)))
        self.receive.toggled.connect(self._toggle)
        self.inbox = QPushButton("Show inbox (0)", self)
        self.inbox.setEnabled(False)
        self.inbox.clicked.connect(self._show)
        self._following_inbox = False  # once shown, the folder view follows the inbox as images arrive
        row.addWidget(self.receive)
        row.addWidget(self.host)
        row.addWidget(QLabel("port", self))
        row.addWidget(self.port)
        row.addWidget(QLabel(")", self))
        row.addStretch(1)
        row.addWidget(self.inbox)
        session.inbox_changed.connect(self._on_inbox)

    def _toggle(self, on: bool) -> None:
        if on:
            self.settings.setValue("pacs/receive_port", self.port.value())
            self.settings.setValue("pacs/receive_host", self.host.currentData())
            if not self.session.start_receiving(self.port.value(), self.host.currentData(),
                                                own_ae=self.own_ae.text() or "CFX_DESKTOP"):
                self.receive.blockSignals(True)
                self.receive.setChecked(False)
                self.receive.blockSignals(False)
        else:
            self.session.stop_receiving()
        self.port.setEnabled(not self.receive.isChecked())
        self.host.setEnabled(not self.receive.isChecked())
        self.inbox.setEnabled(self.receive.isChecked() or bool(self.session.inbox))

    def _show(self) -> None:
        self._following_inbox = True
        self.folder_ready.emit(self.session.inbox_folder)

    def _on_inbox(self, files: list[Path]) -> None:
        self.inbox.setText(f"Show inbox ({len(files)})")
        self.inbox.setEnabled(True)
        if self._following_inbox:  # the guard and the classifier analyse what arrived, in the folder view
            self.folder_ready.emit(self.session.inbox_folder)
