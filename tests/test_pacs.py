"""Reading-room integration: studies from a PACS and results back to it as DICOM SR, through the CLI the scripts
use. pynetdicom's own in-process SCP (`MemoryPacs`) covers every DIMSE path on every machine; a real Orthanc,
started on loopback ports with a throw-away store, covers the same end to end where it is installed."""

from __future__ import annotations

import csv
import shutil
import json
import socket
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydicom.uid import generate_uid

from cfx_desktop.cli import main
from cfx_desktop.core.cancel import CancelToken, Cancelled
from cfx_desktop.pacs import dimse, retrieve, transport
from cfx_desktop.pacs.cache import StudyCache
from cfx_desktop.pacs.peer import PacsError, parse_peer
from cfx_desktop.pacs.receive import Receiver
from cfx_desktop.pacs.results import Finding, read_report, report_text, secondary_capture, structured_report
from tests.conftest import real_data_file
from tests.pacs_fixtures import DICOMWEB_PLUGIN, NO_DICOMWEB, NO_ORTHANC, ORTHANC, MemoryPacs, OrthancServer, chest_pixels, cr_dataset, ct_pixels, free_port


@pytest.fixture
def pacs():
    server = MemoryPacs().start()
    yield server
    server.stop()


def _study(*, chest: int = 0, ct: int = 0, patient: str = "PAT-1") -> list[pydicom.Dataset]:
    """A study of ``chest`` real chest films (when the shared data is there) and ``ct`` synthetic CT slices."""
    study, series = generate_uid(), generate_uid()
    films = []
    for i in range(chest):
        pixels = chest_pixels(i)
        if pixels is not None:
            films.append(cr_dataset(pixels, study_uid=study, series_uid=series, instance=i + 1, patient_id=patient))
    films += [cr_dataset(ct_pixels(), study_uid=study, instance=100 + i, modality="CT", patient_id=patient) for i in range(ct)]
    return films


def _predict_image(path: Path, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / f"{path.stem}.csv"
    assert main(["predict-image", str(path), "--csv", str(out)]) == 0
    return next(csv.DictReader(out.open()))


def test_peers_are_parsed_with_clear_messages() -> None:
    peer = parse_peer("ORTHANC@192.168.1.20:4242")
    assert (peer.ae_title, peer.host, peer.port, peer.is_web) == ("ORTHANC", "192.168.1.20", 4242, False)
    assert parse_peer("https://pacs.example/dicom-web/").url == "https://pacs.example/dicom-web"
    assert parse_peer("http://127.0.0.1:8042/dicom-web").is_web
    for bad, says in [("ORTHANC:4242", "AET@HOST:PORT"), ("A@h:0", "between 1 and 65535"),
                      ("WAY_TOO_LONG_AE_TITLE@h:104", "1 to 16"), ("http://pacs.example/dicom-web", "use https")]:
        with pytest.raises(PacsError, match=says):
            parse_peer(bad)


def test_echo_find_and_analyse_with_send(pacs: MemoryPacs, tmp_path: Path, capsys) -> None:
    films = _study(chest=2, ct=1)
    pacs.held += films
    study = films[0].StudyInstanceUID
    assert main(["pacs", "echo", "--peer", pacs.address]) == 0
    assert main(["pacs", "find", "--peer", pacs.address, "--json"]) == 0
    (found,) = json.loads(capsys.readouterr().out.split("answered in")[-1].split("\n", 1)[1])
    assert {"StudyInstanceUID", "PatientID", "StudyDate", "ModalitiesInStudy", "NumberOfStudyRelatedInstances"} <= set(found)
    assert found["StudyInstanceUID"] == study and found["NumberOfStudyRelatedInstances"] == len(films)

    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["pacs", "analyse", "--peer", pacs.address, "--study", study, "--out", str(out), "--cache", str(cache),
                 "--send"]) == 0
    said = capsys.readouterr().out
    assert said.count("\n1.2.") + said.startswith("1.2.") >= len(films) - 1 and f"stored" in said
    reports = [ds for ds in pacs.held if ds.Modality == "SR"]
    assert len(reports) == len(films)  # one SR per image, in the PACS
    by_source = {read_report(ds)["source"]: (ds, read_report(ds)) for ds in reports}
    for film in films:
        report, content = by_source[film.SOPInstanceUID]  # each SR references its image by SOP Instance UID
        assert report.StudyInstanceUID == study and report.SeriesInstanceUID != film.SeriesInstanceUID
        if film.Modality == "CT":
            assert content["finding"] == "withheld" and content["probability"] is None
            assert "withheld" in content["statement"].lower() and "Modality CT" in content["withheld_reason"]
            assert content["captures"] == []
        else:
            row = _predict_image(cache / study / f"{film.SOPInstanceUID}.dcm", tmp_path)
            assert content["probability"] == pytest.approx(float(row["probability"]), abs=1e-6)
            assert content["finding"] == row["label"] and content["positive"] == "pneumonia"
            assert len(content["captures"]) == 2 and "referee" in content["referee"]
            captures = [ds for ds in pacs.held if ds.SOPInstanceUID in content["captures"]]
            assert len(captures) == 2 and all(c.StudyInstanceUID == study and c.Modality == "OT" for c in captures)

    # a second run resumes: nothing is analysed again, and the app's own results in the study are not analysed
    assert main(["pacs", "analyse", "--peer", pacs.address, "--study", study, "--out", str(out), "--cache", str(cache)]) == 0
    again = capsys.readouterr().out
    assert again.count("(already analysed)") == len(films) and "skipped: a structured report" in again


def test_an_unreachable_peer_fails_within_15_s(tmp_path: Path, capsys) -> None:
    silent = socket.socket()  # accepts the TCP connection and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        for address in (f"SILENT@127.0.0.1:{silent.getsockname()[1]}", f"NOBODY@127.0.0.1:{free_port()}"):
            start = time.monotonic()
            assert main(["pacs", "echo", "--peer", address, "--timeout", "3"]) != 0
            assert time.monotonic() - start < 15
            assert "no answer within 3 s" in capsys.readouterr().err
    finally:
        silent.close()


def test_a_rejected_association_and_a_refused_store_say_so(pacs: MemoryPacs, tmp_path: Path, capsys) -> None:
    assert main(["pacs", "echo", "--peer", f"WRONG@127.0.0.1:{pacs.port}"]) != 0
    assert "rejected the association" in capsys.readouterr().err
    pacs.held += _study(ct=1)
    pacs.store_status = 0xA700
    out = tmp_path / "out"
    assert main(["pacs", "analyse", "--peer", pacs.address, "--study", pacs.held[0].StudyInstanceUID, "--out", str(out),
                 "--cache", str(tmp_path / "cache"), "--send"]) != 0
    err = capsys.readouterr().err
    assert "refused to store" in err and "0xA700" in err and str(out) in err
    assert list(out.glob("*.sr.dcm"))  # the results stay on disk


def test_retrieval_resumes_with_what_is_missing_and_can_be_cancelled(pacs: MemoryPacs, tmp_path: Path) -> None:
    study, first, second = generate_uid(), generate_uid(), generate_uid()
    pacs.held += [cr_dataset(ct_pixels(), study_uid=study, series_uid=s, instance=i) for i, s in enumerate([first, first, second])]
    peer, cache = parse_peer(pacs.address), StudyCache(tmp_path / "cache")
    assert len(transport.retrieve_study(peer, study, cache)) == 3 and pacs.gets == ["STUDY"]
    (cache.folder(study) / f"{pacs.held[2].SOPInstanceUID}.dcm").unlink()
    assert len(transport.retrieve_study(peer, study, cache)) == 3 and pacs.gets == ["STUDY", "IMAGE"]
    assert len(transport.retrieve_study(peer, study, cache)) == 3 and len(pacs.gets) == 2  # complete: nothing fetched

    # a PACS whose sub-operation fails for one image: what arrived is kept, the shortfall is counted and said,
    # and a retry fetches only that image
    partial = StudyCache(tmp_path / "partial")
    pacs.withheld.add(str(pacs.held[1].SOPInstanceUID))
    got = transport.retrieve_study(peer, study, partial)
    assert len(got) == 2 and got.missing == 1
    session, seen = _session(tmp_path / "s")  # the study browser says it
    session.configure(pacs.address)
    session.retrieve(study)
    assert seen[-1].startswith("done: 2 images of the study are here; 1 the PACS listed did not arrive"), seen[-1]
    pacs.withheld.clear()
    again = transport.retrieve_study(peer, study, partial)
    assert len(again) == 3 and again.missing == 0 and pacs.gets[-1] == "IMAGE"

    token, fresh = CancelToken(), StudyCache(tmp_path / "fresh")
    with pytest.raises(Cancelled):
        retrieve.retrieve_study(peer, study, fresh, progress=lambda *a: token.cancel(), cancel=token)
    assert 1 <= len(fresh.paths(study)) < 3  # what arrived before Cancel is kept


def test_the_cache_evicts_the_least_recently_used_study(tmp_path: Path) -> None:
    cache = StudyCache(tmp_path / "cache", limit_bytes=1)
    old, new = _study(ct=1), _study(ct=1)
    cache.put(old[0])
    time.sleep(0.05)
    cache.put(new[0])
    assert cache.evict(keep=new[0].StudyInstanceUID) == [old[0].StudyInstanceUID]
    assert cache.paths(new[0].StudyInstanceUID) and not cache.paths(old[0].StudyInstanceUID)
    with pytest.raises(ValueError, match="not a DICOM UID"):
        cache.folder("../../etc")


def test_the_report_reads_back_as_written(tmp_path: Path) -> None:
    film = _study(ct=1)[0]
    finding = Finding("pneumonia", "pneumonia (p(pneumonia) 0.91, threshold 0.47)", 0.912345, 0.47, "pneumonia",
                      "Slim CNN (pneumonia-slim-cnn)", "2026-11-30", "ROC AUC 0.970", "a chest radiograph", "Grad-CAM",
                      "passes 3 of 3", "confirmed: pneumonia -> normal")
    capture = secondary_capture(film, np.zeros((40, 60, 3), np.uint8), "overlay", series_uid=generate_uid(), instance_number=1)
    structured_report(film, finding, [capture]).save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    back = read_report(pydicom.dcmread(tmp_path / "sr.dcm"))
    for key, value in vars(finding).items():
        if key != "withheld_reason":
            assert back[key] == value, key
    assert back["source"] == film.SOPInstanceUID and back["captures"] == [capture.SOPInstanceUID]
    text = report_text(pydicom.dcmread(tmp_path / "sr.dcm"))
    assert "Finding: pneumonia (p(pneumonia) 0.91, threshold 0.47)" in text and f"image {film.SOPInstanceUID}" in text


def test_receive_mode_keeps_what_arrives_and_refuses_damaged_datasets(tmp_path: Path) -> None:
    arrived: list[Path] = []
    receiver = Receiver(StudyCache(tmp_path / "inbox"), port=0, on_received=arrived.append).start()
    peer = parse_peer(f"CFX_DESKTOP@127.0.0.1:{receiver.port}", own_ae="SENDER", timeout=5)
    try:
        good = _study(ct=1)[0]
        assert dimse.store(peer, [good]) == 1 and arrived and arrived[0].name == f"{good.SOPInstanceUID}.dcm"

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @example("SOPInstanceUID", "a\\b")  # a backslash makes the UID multi-valued: pynetdicom raised TypeError
        @given(st.sampled_from(["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PixelData", "Rows"]),
               st.one_of(st.none(), st.binary(max_size=64), st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)))
        def damaged(keyword: str, value: object) -> None:
            ds = _study(ct=1)[0]
            if value is None:
                delattr(ds, keyword)
            elif keyword == "PixelData":
                ds.PixelData = value if isinstance(value, bytes) else value.encode()
            elif keyword == "Rows":
                ds.Rows = len(str(value)) + 7
            else:
                setattr(ds, keyword, ("../" + str(value)) if isinstance(value, str) else "1.2.x")
            kept_before = len(receiver.received)
            try:
                dimse.store(peer, [ds])
            except PacsError as exc:
                # refused by the receiver with its status, or not even sendable (pynetdicom checks a few elements)
                assert ("refused to store" in str(exc) and "0xC210" in str(exc)) or "cannot be sent" in str(exc)
                assert len(receiver.received) == kept_before
            else:  # accepted: then it was a valid dataset after all, and it is on disk
                assert receiver.received[-1].is_file()

        damaged()
        assert receiver.refused  # the damaged ones were refused with a reason
        assert dimse.store(peer, [_study(ct=1)[0]]) == 1  # and the receiver still runs
    finally:
        receiver.stop()


@pytest.mark.skipif(ORTHANC is None, reason=NO_ORTHANC)
def test_end_to_end_with_orthanc(tmp_path: Path, capsys) -> None:
    """Films into a real Orthanc as CR DICOM; find; analyse with --send; the SRs read back from Orthanc say the
    finding, the probability predict-image gives on the same pixels, and which image they are about; a non-chest
    study's SR says 'withheld'."""
    server = OrthancServer(tmp_path / "orthanc").start()
    try:
        peer = parse_peer(server.address)
        chest, other = _study(chest=2, patient="CHEST-1"), _study(ct=1, patient="CT-1")
        assert dimse.store(peer, chest + other) == len(chest) + len(other)
        assert main(["pacs", "find", "--peer", server.address, "--patient-id", "CT-1", "--json"]) == 0
        (found,) = json.loads(capsys.readouterr().out)
        assert found["StudyInstanceUID"] == other[0].StudyInstanceUID and found["ModalitiesInStudy"] == ["CT"]
        for films in (chest, other):
            if not films:
                continue
            study = films[0].StudyInstanceUID
            assert main(["pacs", "analyse", "--peer", server.address, "--study", study, "--out", str(tmp_path / "out"),
                         "--cache", str(tmp_path / "cache"), "--send", "--no-counterfactual"]) == 0
            back = transport.retrieve_study(peer, study, StudyCache(tmp_path / "readback"))
            reports = {read_report(d)["source"]: read_report(d) for d in map(pydicom.dcmread, back) if d.Modality == "SR"}
            for film in films:
                content = reports[film.SOPInstanceUID]
                if film.Modality == "CT":
                    assert content["finding"] == "withheld" and "withheld" in content["statement"].lower()
                else:
                    row = _predict_image(tmp_path / "cache" / study / f"{film.SOPInstanceUID}.dcm", tmp_path)
                    assert content["probability"] == pytest.approx(float(row["probability"]), abs=1e-6)
                    assert content["finding"] == row["label"]
        start = time.monotonic()
        server.stop()
        assert main(["pacs", "echo", "--peer", server.address, "--timeout", "3"]) != 0
        assert time.monotonic() - start < 15
    finally:
        server.stop()


def _session(tmp_path: Path, scheduler=None):  # noqa: ANN001, ANN202
    from cfx_desktop.core.imaging.models.classifier import DEFAULT_MODEL
    from cfx_desktop.sessions.pacs import PacsSession
    from cfx_desktop.sessions.scheduler import ImmediateScheduler

    session = PacsSession(scheduler or ImmediateScheduler(), StudyCache(tmp_path / "cache"), tmp_path / "results", DEFAULT_MODEL)
    seen: list[str] = []
    session.status_changed.connect(lambda status: seen.append(f"{status.state}: {status.message}"))
    return session, seen


def test_the_browser_session_tests_searches_retrieves_and_sends(pacs: MemoryPacs, tmp_path: Path) -> None:
    """The study browser's whole request lifecycle, without a window."""
    films = _study(chest=1, ct=1)
    pacs.held += films
    study = films[0].StudyInstanceUID
    session, seen = _session(tmp_path)
    ready: list[tuple[str, Path]] = []
    session.study_ready.connect(lambda uid, folder: ready.append((uid, folder)))
    assert not session.configure("ORTHANC:4242") and "AET@HOST:PORT" in seen[-1] and session.peer is None
    session.search()
    assert seen[-1].startswith("failed: Configure a PACS first")
    assert session.configure(pacs.address)
    session.test()
    assert seen[-2].startswith("running: Testing") and "answered in" in seen[-1]
    session.search(dimse.StudyFilter(patient_id="PAT-1"))
    assert [s.uid for s in session.studies] == [study] and seen[-1].startswith("done: 1 study")
    session.analyse_and_send(study)
    assert seen[-1].startswith("failed: Retrieve the study first")
    session.retrieve(study)
    assert ready == [(study, session.cache.folder(study))] and len(session.retrieved[study]) == len(films)
    session.analyse_and_send(study)
    assert seen[-1] == (f"done: Stored {3 * len(films) - 2} results (SR and explanation images) of {len(films)} images in "
                        f"{pacs.address} (1 withheld as not chest radiographs).")
    assert sum(ds.Modality == "SR" for ds in pacs.held) == len(films)


def test_the_browser_session_cancels_and_reports_an_unreachable_peer(pacs: MemoryPacs, tmp_path: Path) -> None:
    from cfx_desktop.sessions.scheduler import ImmediateScheduler

    pacs.held += _study(ct=3)
    session, seen = _session(tmp_path, ImmediateScheduler(cancel_after=1))
    session.configure(pacs.address)
    session.retrieve(pacs.held[0].StudyInstanceUID)
    assert seen[-1].startswith("cancelled: Cancelled; what arrived is kept")
    session.configure(f"NOBODY@127.0.0.1:{free_port()}", timeout=2)
    start = time.monotonic()
    session.test()
    assert seen[-1].startswith("failed:") and "no answer within 2 s" in seen[-1] and time.monotonic() - start < 15


def test_receive_mode_in_the_session_fills_the_inbox(tmp_path: Path) -> None:
    session, seen = _session(tmp_path)
    inboxes: list[list[Path]] = []
    session.inbox_changed.connect(inboxes.append)
    assert session.start_receiving(0)
    try:
        assert "Receiving as CFX_DESKTOP on 127.0.0.1:" in seen[-1]
        film = _study(ct=1)[0]
        peer = parse_peer(f"CFX_DESKTOP@127.0.0.1:{session.receiver.port}", own_ae="MODALITY")
        assert dimse.store(peer, [film]) == 1
        assert inboxes and inboxes[-1][0].name == f"{film.SOPInstanceUID}.dcm" and inboxes[-1][0].is_file()
    finally:
        session.stop_receiving()
    assert seen[-1] == "idle: Receive mode is off."


@pytest.mark.skipif(ORTHANC is None or DICOMWEB_PLUGIN is None, reason=NO_DICOMWEB)
def test_dicomweb_is_the_second_transport(tmp_path: Path, capsys) -> None:
    """The same commands against Orthanc's DICOMweb plugin: QIDO-RS finds, WADO-RS retrieves, STOW-RS stores."""
    server = OrthancServer(tmp_path / "orthanc").start()
    try:
        films = _study(chest=1, ct=1, patient="WEB-1")
        study = films[0].StudyInstanceUID
        assert dimse.store(parse_peer(server.address), films) == len(films)
        assert main(["pacs", "echo", "--peer", server.web]) == 0
        assert main(["pacs", "find", "--peer", server.web, "--patient-id", "WEB-1", "--json"]) == 0
        (found,) = json.loads(capsys.readouterr().out.split("\n", 1)[1])
        assert found["StudyInstanceUID"] == study and found["NumberOfStudyRelatedInstances"] == len(films)
        assert main(["pacs", "analyse", "--peer", server.web, "--study", study, "--out", str(tmp_path / "out"),
                     "--cache", str(tmp_path / "cache"), "--send", "--no-counterfactual"]) == 0
        back = transport.retrieve_study(parse_peer(server.web), study, StudyCache(tmp_path / "readback"))
        reports = [read_report(d) for d in map(pydicom.dcmread, back) if d.Modality == "SR"]
        assert sorted(r["source"] for r in reports) == sorted(f.SOPInstanceUID for f in films)
        start = time.monotonic()
        server.stop()
        assert main(["pacs", "echo", "--peer", server.web, "--timeout", "3"]) != 0
        assert "cannot connect" in capsys.readouterr().err and time.monotonic() - start < 15
    finally:
        server.stop()


def test_a_pacs_without_c_get_is_asked_for_a_c_move(tmp_path: Path, capsys) -> None:
    """C-MOVE to this app's AE title, received by a storage SCP that runs for that retrieval only; without a
    port the message says what to configure."""
    port = free_port()
    server = MemoryPacs(offer_get=False, move_destinations={"CFX_DESKTOP": ("127.0.0.1", port)}).start()
    try:
        server.held += _study(ct=2)
        study = server.held[0].StudyInstanceUID
        base = ["pacs", "analyse", "--peer", server.address, "--study", study, "--out", str(tmp_path / "out"),
                "--cache", str(tmp_path / "cache"), "--no-counterfactual"]
        assert main(base) != 0
        assert "does not offer C-GET" in capsys.readouterr().err
        assert main([*base, "--move-port", str(port)]) == 0
        assert f"retrieved 2 images of {study}" in capsys.readouterr().out
        assert len(StudyCache(tmp_path / "cache").paths(study)) == 2
    finally:
        server.stop()


@pytest.mark.realdata
def test_the_browser_session_falls_back_to_c_move_and_sends_without_counterfactuals(tmp_path: Path) -> None:
    """The study browser's C-MOVE fallback (a port set in the dialog) and its "with counterfactual images" box. Its
    counts (2 images, 3 results) include a real chest film's, so it needs the shared data."""
    real_data_file("kermany_cxr_224/train/NORMAL")
    port = free_port()
    server = MemoryPacs(offer_get=False, move_destinations={"CFX_DESKTOP": ("127.0.0.1", port)}).start()
    try:
        films = _study(chest=1, ct=1)
        server.held += films
        study = films[0].StudyInstanceUID
        session, seen = _session(tmp_path)
        session.configure(server.address)
        session.retrieve(study)
        assert seen[-1].startswith("failed:") and "does not offer C-GET" in seen[-1] and "--move-port" in seen[-1]
        session.move_port, session.counterfactual = port, False
        session.retrieve(study)
        assert seen[-1].startswith("done: 2 images of the study are here") and len(session.retrieved[study]) == 2
        session.analyse_and_send(study)
        assert seen[-1].startswith("done: Stored 3 results")  # 2 SRs and the chest film's saliency; no comparison
        reports = [read_report(ds) for ds in server.held if ds.Modality == "SR"]
        assert len(reports) == 2 and any("not made (not asked for)" in report_text(ds) for ds in server.held if ds.Modality == "SR")
    finally:
        server.stop()


def test_the_study_browser_in_the_app(qtbot, make_window, pacs: MemoryPacs, tmp_path: Path, monkeypatch) -> None:
    """File > Open from PACS: search, open a study into the folder view, send the results after the question."""
    monkeypatch.setenv("CFX_USER_DATA_DIR", str(tmp_path / "user"))
    pacs.held += _study(ct=2, patient="GUI-1")
    win = make_window(show=True)
    xray = win.tab_list[1]
    action = next(a for a in win.menuBar().actions()[0].menu().actions() if a.text() == "Open from PACS...")
    win.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: hasattr(xray, "open_from_pacs"), timeout=60_000)
    action.trigger()
    dialog = xray._pacs_dialog
    assert dialog.isVisible() and "nothing connects until you do" in dialog.status.text()
    dialog.peer.setText(pacs.address)
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=30_000)
    assert dialog.table.item(0, 0).text() == "GUI-1" and dialog.table.item(0, 3).text() == "CT"
    qtbot.waitUntil(lambda: dialog.series.rowCount() == 2, timeout=30_000)  # the study's series, by C-FIND
    assert dialog.series.item(0, 1).text() == "CT"
    dialog.open_button.click()
    qtbot.waitUntil(lambda: "open in the folder view" in dialog.status.text(), timeout=30_000)
    qtbot.waitUntil(lambda: xray.folder_panel.tree.topLevelItemCount() == 1, timeout=30_000)
    assert "GUI-1" in xray.folder_panel.tree.topLevelItem(0).text(0)
    asked: list[str] = []
    dialog._send(confirm=lambda text: asked.append(text) or False)  # "No": nothing is sent
    assert asked and "store the results" in asked[0] and not any(ds.Modality == "SR" for ds in pacs.held)
    dialog._send(confirm=lambda text: True)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Stored"), timeout=120_000)
    assert "2 withheld as not chest radiographs" in dialog.status.text()
    assert sum(ds.Modality == "SR" for ds in pacs.held) == 2

    dialog.port.setValue(free_port())
    assert dialog.host.currentData() == "127.0.0.1"  # loopback unless the user chooses otherwise
    dialog.receive.setChecked(True)  # receive mode: the folder view follows the inbox once it was shown
    assert dialog.session.receiver is not None and "Receiving as CFX_DESKTOP on 127.0.0.1" in dialog.status.text()
    assert dialog.session.receiver.host == "127.0.0.1" and not dialog.host.isEnabled()
    dialog.inbox.click()
    sender = parse_peer(f"CFX_DESKTOP@127.0.0.1:{dialog.session.receiver.port}", own_ae="MODALITY")
    assert dimse.store(sender, _study(ct=1, patient="INBOX-1")) == 1
    qtbot.waitUntil(lambda: dialog.inbox.text() == "Show inbox (1)", timeout=30_000)
    qtbot.waitUntil(lambda: xray.folder_panel.tree.topLevelItemCount() == 1
                    and "INBOX-1" in xray.folder_panel.tree.topLevelItem(0).text(0), timeout=30_000)
    dialog.receive.setChecked(False)
    assert dialog.session.receiver is None
    dialog.reject()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (it makes the throw-away certificates)")
def test_dimse_over_tls(tmp_path: Path, capsys) -> None:
    """A TLS peer (pynetdicom's SCP with a throw-away CA and server certificate): the echo succeeds with --tls-ca
    and fails, with a message, without it."""
    import ssl
    import subprocess

    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (tmp_path / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "ext.cnf", "-out", "server.pem")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    ae = AE(ae_title="TLSPACS")
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, ssl_context=server_context)
    try:
        peer = f"TLSPACS@127.0.0.1:{port}"
        assert main(["pacs", "echo", "--peer", peer, "--tls-ca", str(tmp_path / "ca.pem"), "--timeout", "5"]) == 0
        assert "answered in" in capsys.readouterr().out
        assert main(["pacs", "echo", "--peer", peer, "--timeout", "3"]) != 0  # plain DICOM to a TLS port: no answer
        assert "no answer within 3 s" in capsys.readouterr().err
    finally:
        server.shutdown()
