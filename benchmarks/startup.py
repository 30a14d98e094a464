"""Start-up against a bare window, in one run: a fresh process of the app (`--screenshot`, which waits until
every tab is idle with its results) and a fresh process that shows only a PySide6 main window holding a
pyqtgraph ImageView. Both are timed from the moment the process is launched; the runs alternate, and the
medians are compared as ratios, so a slow or busy machine slows both alike.

Targets (issue 15): first paint <= 1.3x the bare window's; every tab idle with results <= 2.5x. Issue 27: Quit
with nothing running ends the process within 1 s (a third fresh process per round chooses File > Quit once every
tab is idle, `CFX_STARTUP_PROBE_QUIT`; timed from that moment to the end of the process).
Run: python -m benchmarks.startup [--repeats 7]   (offscreen; writes benchmarks/results/startup.json)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import BenchmarkError, machine, machine_line, median, publish_and_show, require

BARE_CHILD = r"""
import json, sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg
app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(pg.ImageView())
window.resize(1400, 900)
class First(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and watched.isWidgetType() and watched.window() is window:
            open(sys.argv[1], "w").write(json.dumps({"first_paint": time.time()}))
            app.removeEventFilter(self)
            QTimer.singleShot(0, app.quit)
        return False
probe = First()
app.installEventFilter(probe)
window.show()
app.exec()
"""

TARGETS = {"first_paint_ratio": 1.3, "idle_ratio": 2.5, "quit_s": 1.0}


def _launch(command: list[str], env: dict[str, str], probe: Path, row: str, needs: tuple[str, ...],
            limit_s: float = 300.0) -> dict[str, Any]:
    """One fresh process, timed by the stamps it writes to ``probe``; a process that hangs past ``limit_s`` or
    ends without every stamp in ``needs`` (e.g. the app never became idle with its results) is an error."""
    probe.unlink(missing_ok=True)
    start = time.time()
    try:
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=limit_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(row, f"the process was still running after its {limit_s:g} s limit") from exc
    ended = time.time()
    require(done.returncode == 0, row, f"the process exited with code {done.returncode}")
    require(probe.exists(), row, "the process ended without writing its time stamps")
    record = json.loads(probe.read_text(encoding="utf-8"))
    missing = [key for key in needs if key not in record]
    require(not missing, row, f"no {', '.join(missing)} stamp")
    return {**{k: (v - start if isinstance(v, float) else v) for k, v in record.items()}, "ended": ended - start}


def run(repeats: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="cfx-startup-"))
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               CFX_SETTINGS_DIR=str(tmp / "settings"), CFX_LOG_DIR=str(tmp / "logs"))
    bare, app, quits = [], [], []
    for _ in range(repeats):  # alternating, so drift in machine load hits both
        bare.append(_launch([sys.executable, "-c", BARE_CHILD, str(tmp / "bare.json")], env, tmp / "bare.json",
                            "bare window first paint", ("first_paint",)))
        app.append(_launch([sys.executable, "-m", "cfx_desktop", "--screenshot", str(tmp / "shot.png")],
                           dict(env, CFX_STARTUP_PROBE=str(tmp / "app.json")), tmp / "app.json",
                           "every tab idle with its results", ("first_paint", "idle")))
        quits.append(_launch([sys.executable, "-m", "cfx_desktop"],
                             dict(env, CFX_STARTUP_PROBE=str(tmp / "quit.json"), CFX_STARTUP_PROBE_QUIT="1"),
                             tmp / "quit.json", "Quit with nothing running", ("idle", "quit")))
    bare_paint = median((r["first_paint"] for r in bare), "bare window first paint")
    app_paint = median((r["first_paint"] for r in app), "cfx-desktop first paint")
    app_idle = median((r["idle"] for r in app), "every tab idle with its results")
    quit_s = median((r["ended"] - r["quit"] for r in quits), "Quit with nothing running")
    result = {
        "machine": machine(),
        "repeats": repeats,
        "bare_first_paint_s": bare_paint,
        "app_first_paint_s": app_paint,
        "app_idle_with_results_s": app_idle,
        "first_paint_ratio": app_paint / bare_paint,
        "idle_ratio": app_idle / bare_paint,
        "quit_s": quit_s,
        "targets": TARGETS,
        "heavy_modules_at_first_paint": sorted({m for r in app for m in r["heavy_at_first_paint"]}),
        "runs": {"bare": bare, "app": app, "quit": quits},
    }
    result["met"] = {k: result[k] <= v for k, v in TARGETS.items()}
    return result


def markdown(r: dict[str, Any]) -> str:
    heavy = ", ".join(r["heavy_modules_at_first_paint"]) or "none"
    return "\n".join([
        f"Start-up, fresh processes, median of {r['repeats']} alternating runs ({machine_line(r['machine'])})",
        "",
        "| measure | seconds | ratio to the bare window | target |",
        "|---|---|---|---|",
        f"| bare PySide6 + pyqtgraph ImageView window, first paint | {r['bare_first_paint_s']:.2f} | 1.00 | |",
        f"| cfx-desktop first paint (example patient's form filled) | {r['app_first_paint_s']:.2f} | {r['first_paint_ratio']:.2f} | <= 1.3 |",
        f"| cfx-desktop, every tab idle with its results | {r['app_idle_with_results_s']:.2f} | {r['idle_ratio']:.2f} | <= 2.5 |",
        f"| Quit with nothing running, to the end of the process | {r['quit_s']:.2f} | | <= 1 s |",
        "",
        f"Heavy libraries already imported at first paint: {heavy}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    result = run(args.repeats)
    publish_and_show("startup", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
