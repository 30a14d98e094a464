"""``cfx-desktop pacs echo | find | analyse``: the reading-room scripts' way to the PACS (and the tests' way to
Orthanc). Each network step is bounded by ``--timeout``; a peer that does not answer is an error message and a
non-zero exit, never a hang."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cfx_desktop.commands import choices
from cfx_desktop.commands.errors import UserError


def _peer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--peer", required=True, metavar="AET@HOST:PORT", help="the PACS: its AE title, host and port "
                   "(or an https DICOMweb address)")
    p.add_argument("--own-ae", default="CFX_DESKTOP", help="this app's AE title (default CFX_DESKTOP)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per network step (default 10)")
    p.add_argument("--tls-ca", type=Path, help="DIMSE over TLS: the CA bundle that signed the peer's certificate")


def register(sub: argparse._SubParsersAction) -> None:
    pacs = sub.add_parser("pacs", help="studies from a PACS, results back to it as DICOM SR (echo, find, analyse)")
    actions = pacs.add_subparsers(dest="pacs_command", required=True, metavar="{echo,find,analyse}")

    e = actions.add_parser("echo", help="C-ECHO: exit 0 when the peer answers")
    _peer_options(e)
    e.set_defaults(handler=echo)

    f = actions.add_parser("find", help="C-FIND: the studies that match")
    _peer_options(f)
    f.add_argument("--patient-id", default="")
    f.add_argument("--patient-name", default="", help="DICOM wildcards allowed, e.g. DOE^*")
    f.add_argument("--date", default="", help="YYYYMMDD or YYYYMMDD-YYYYMMDD")
    f.add_argument("--modality", default="", help="e.g. CR or DX")
    f.add_argument("--json", action="store_true", help="a JSON list of studies instead of a table")
    f.set_defaults(handler=find)

    a = actions.add_parser("analyse", help="retrieve a study, analyse every image, write an SR (and Secondary "
                           "Captures) per image; --send stores them back to the peer")
    _peer_options(a)
    a.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
    a.add_argument("--out", type=Path, required=True, help="folder for the SRs and Secondary Captures")
    a.add_argument("--send", action="store_true", help="store the results in the peer (C-STORE) when done")
    a.add_argument("--method", choices=choices.RegistryChoices(choices.saliency_methods), help="saliency method "
                   "(default: the registry's default)")
    a.add_argument("--no-counterfactual", action="store_true", help="skip the counterfactual (faster)")
    a.add_argument("--model", help="installed image model (default: the app's default)")
    a.add_argument("--cache", type=Path, help="where retrieved studies are kept (default: the user data folder)")
    a.add_argument("--move-port", type=int, metavar="PORT", help="for a PACS without C-GET: receive a C-MOVE on this "
                   "port (on 127.0.0.1; the PACS must list this app's AE title, host and port)")
    a.set_defaults(handler=analyse)


def _peer(args: argparse.Namespace):  # noqa: ANN202
    from cfx_desktop.pacs.peer import PacsError, parse_peer

    try:
        peer = parse_peer(args.peer, args.own_ae, args.timeout)
    except PacsError as exc:
        raise UserError(str(exc)) from exc
    if args.tls_ca is not None:
        from dataclasses import replace

        peer = replace(peer, tls_ca=args.tls_ca)
    return peer


def echo(args: argparse.Namespace) -> int:
    from cfx_desktop.pacs import transport
    from cfx_desktop.pacs.peer import PacsError

    peer = _peer(args)
    try:
        seconds = transport.echo(peer)
    except PacsError as exc:
        raise UserError(str(exc)) from exc
    print(f"{peer} answered in {seconds * 1000:.0f} ms")
    return 0


def find(args: argparse.Namespace) -> int:
    from cfx_desktop.pacs import transport
    from cfx_desktop.pacs.dimse import StudyFilter
    from cfx_desktop.pacs.peer import PacsError

    peer = _peer(args)
    try:
        studies = transport.find_studies(peer, StudyFilter(args.patient_id, args.patient_name, args.date, args.modality))
    except PacsError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps([s.as_json() for s in studies], indent=1))
        return 0
    for s in studies:
        print(f"{s.uid}  {s.patient_id:<12} {s.date:<8} {'/'.join(s.modalities):<6} {s.instances if s.instances is not None else '?':>4} "
              f"images  {s.description}")
    print(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} on {peer}")
    return 0


def analyse(args: argparse.Namespace) -> int:
    from cfx_desktop import paths
    from cfx_desktop.commands.imaging import image_model
    from cfx_desktop.core.imaging.guard.model import load_guard
    from cfx_desktop.pacs import transport
    from cfx_desktop.pacs.analyse import Options, analyse_files
    from cfx_desktop.pacs.cache import StudyCache
    from cfx_desktop.pacs.peer import PacsError

    peer = _peer(args)
    model = image_model(args.model)
    guard = load_guard(model)
    cache = StudyCache(args.cache or paths.user_data_dir() / "pacs-cache")
    try:
        files = transport.retrieve_study(peer, args.study, cache, move_port=args.move_port)
    except (PacsError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    print(f"retrieved {len(files)} images of {args.study} into {cache.folder(args.study)}", flush=True)
    if files.missing:
        print(f"  {files.missing} images the PACS listed did not arrive; running this again fetches only those",
              file=sys.stderr, flush=True)
    options = Options(args.method, not args.no_counterfactual)
    written, failed = [], 0
    for outcome in analyse_files(files, model, guard, args.out, options):  # one bad image never stops the study
        if outcome.error is not None:
            failed += 1
            print(f"{outcome.path.stem}: FAILED: {type(outcome.error).__name__}: {outcome.error}", flush=True)
        elif outcome.skipped:
            print(f"{outcome.path.stem}: skipped: {outcome.skipped}", flush=True)
        else:
            written.extend(outcome.done.outputs)
            print(outcome.done.line(), flush=True)
    print(f"wrote {len(written)} files to {args.out} ({failed} images failed)")
    if args.send and written:
        try:
            stored = transport.send_files(peer, written)
        except PacsError as exc:
            raise UserError(f"{exc} (the results stay in {args.out})") from exc
        print(f"stored {stored} results in {peer}")
    return 1 if failed and not written else 0
