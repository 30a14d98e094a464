"""Command line: no sub-command starts the GUI; sub-commands run core work (training, explanations, batch).

Handlers import their core modules lazily so ``cfx-desktop --help`` stays fast. Every user-facing failure is
reported as ``error: ...`` on stderr with exit code 2, never a bare traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from cfx_desktop import __version__
from cfx_desktop.commands.errors import UserError

Handler = Callable[[argparse.Namespace], int]
_HANDLERS: dict[str, Handler] = {}


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("size must look like 1400x900") from exc
    return width, height


GLOBAL_WITH_VALUE = {"--device", "--screenshot", "--size", "--tab"}


def _add_global(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"cfx-desktop {__version__}")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="compute device (default: auto)")
    parser.add_argument("--self-test", action="store_true", help="start the app, exercise each tab's main path, exit 0/1")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="render the main window to PNG and exit")
    parser.add_argument("--size", type=_size, metavar="WxH", help="window size, e.g. 1400x900")
    parser.add_argument("--tab", help="tab to show first: patient or xray")


DESCRIPTION = "Offline explanations and counterfactuals for heart-failure patients and chest X-rays."


def build_parser() -> argparse.ArgumentParser:
    """The command parser: global options, then a sub-command (see `build_gui_parser` for starting the app)."""
    parser = argparse.ArgumentParser(prog="cfx-desktop", description=DESCRIPTION,
                                     epilog="Without a command the app starts: cfx-desktop [options] [FILE ...]")
    _add_global(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars():
        register(sub)
    return parser


def build_gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cfx-desktop", description=DESCRIPTION,
                                     epilog="Commands (train-tabular, explain-patient, predict-image, ...): cfx-desktop --help-commands")
    _add_global(parser)
    parser.add_argument("--help-commands", action="store_true", help="list the command-line sub-commands")
    parser.add_argument("files", nargs="*", type=Path, help="files to open at start (patient CSV or images)")
    return parser


def _first_positional(argv: Sequence[str]) -> str | None:
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in GLOBAL_WITH_VALUE:
            skip = True
            continue
        if not token.startswith("-"):
            return token
    return None


def _register_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print version, compute device and installed model bundles")
    p.set_defaults(handler=_info)


def _info(args: argparse.Namespace) -> int:
    """Version, device and every bundle; a bundle that fails its sha256 check is listed as refused (exit 1)."""
    from cfx_desktop.core import bundles, device

    print(f"cfx-desktop {__version__}")
    print(f"device: {device.describe()}")
    refused = bundles.check_integrity()
    for name in bundles.list_bundles():
        if name in refused:
            print(f"refused: {name} ({bundles.short_reason(refused[name])}): {refused[name]}")
            continue
        card = bundles.read_card(name)
        print(f"model: {name}: {card.get('task', '')} {card.get('metrics_summary', '')}")
    return 1 if refused else 0


def _registrars() -> list[Callable[[argparse._SubParsersAction], None]]:
    from cfx_desktop.commands import batch, imaging, own_data, pacs, reports, tabular

    return [_register_info, tabular.register, tabular.register_explain, imaging.register, imaging.register_usage,
            imaging.register_counterfactual, imaging.register_links, reports.register, own_data.register,
            batch.register, pacs.register]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = _first_positional(argv)
    # the command parser reads the registries (torch) for its choices: built only when a command may be asked
    # for, so `cfx-desktop` and `cfx-desktop image.dcm` paint their window before torch loads
    maybe_command = first is not None and not Path(first).exists()
    parser = build_parser() if maybe_command or "--help-commands" in argv else None
    commands = set(parser._subparsers._group_actions[0].choices) if parser else set()  # type: ignore[union-attr]
    if parser is not None and first in commands:
        args = parser.parse_args(argv)
    else:
        args = build_gui_parser().parse_args(argv)
        if args.help_commands and parser is not None:
            parser.print_help()
            return 0
    from cfx_desktop.core import device

    try:
        device.set_preferred(args.device)
    except device.DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    handler = getattr(args, "handler", None)
    if handler is None:
        from cfx_desktop.app import run_gui

        return run_gui(self_test=args.self_test, screenshot=args.screenshot, size=args.size, tab=args.tab,
                       files=getattr(args, "files", []))
    try:
        return handler(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
