"""GUI responsiveness: time to first window and first result (fresh process), live counterfactual-suggestion
latency after an edit (p50/p95), and the longest event-loop stall while an image counterfactual runs.

Run: python -m benchmarks.gui   (offscreen; writes benchmarks/results/gui.json)
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, machine, write_json

STARTUP_CHILD = r"""
import time, sys
from PySide6.QtCore import QTimer
from cfx_desktop.app import build_window, get_app
app = get_app()
window = build_window()
window.show()
app.processEvents()
print("WINDOW", flush=True)
tab = window.tab_list[0]
def check():
    if tab.prediction is not None and tab.suggestions_result is not None:
        print("RESULT", flush=True)
        app.exit(0)
    else:
        QTimer.singleShot(5, check)
QTimer.singleShot(5, check)
app.exec()
"""


def startup(repeats: int = 3) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CFX_SETTINGS_DIR=str(ROOT / "build" / "bench-settings"))
    window, result = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", STARTUP_CHILD], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("WINDOW"):
                window.append(time.perf_counter() - start)
            if line.startswith("RESULT"):
                result.append(time.perf_counter() - start)
                break
        child.wait(60)
    return {"first_window_s": statistics.median(window), "first_prediction_and_suggestions_s": statistics.median(result)}


def in_process(edits: int = 40) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QElapsedTimer, QTimer

    from cfx_desktop.app import build_window, get_app
    from cfx_desktop.ui.patient.tab import DEBOUNCE_MS

    app = get_app()
    window = build_window()
    window.resize(1400, 900)
    window.show()

    def wait(predicate, limit: float = 60.0) -> None:  # noqa: ANN001
        end = time.perf_counter() + limit
        while not predicate() and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    tab = window.tab_list[0]
    wait(lambda: tab.is_idle() and tab.suggestions_result is not None)
    latencies = []
    rng = np.random.default_rng(0)
    for _ in range(edits):
        tab.form.set_value("serum_creatinine", float(rng.uniform(0.6, 3.0)))
        start = time.perf_counter()
        target = tab.form.vector()
        wait(lambda: tab.suggestions_result is not None and np.array_equal(tab.suggestions_result.x, target) and tab.is_idle())
        latencies.append(time.perf_counter() - start)
    # event-loop stall while an image counterfactual runs
    xray = window.tab_list[1]
    window.tabs.setCurrentWidget(xray)
    path = ROOT / "build" / "bench-image.png"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray(np.round(np.clip(rng.normal(0.5, 0.15, (512, 448)), 0, 1) * 255).astype(np.uint8)).save(path)
    xray.open_path(path)
    wait(lambda: xray.is_idle() and xray.prediction is not None and xray.overlay_result is not None)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)
    probe.start()
    start = time.perf_counter()
    xray.generate_counterfactual()
    wait(lambda: xray.cf_result is not None and xray.is_idle(), 120)
    cf_seconds = time.perf_counter() - start
    probe.stop()
    window.pool.shutdown()
    return {
        "live_suggestions_latency_p50_s": float(np.percentile(latencies, 50)),
        "live_suggestions_latency_p95_s": float(np.percentile(latencies, 95)),
        "live_latency_note": f"from the edit to suggestions shown; includes the {DEBOUNCE_MS} ms debounce",
        "debounce_ms": DEBOUNCE_MS,
        "image_counterfactual_in_app_s": cf_seconds,
        "max_event_loop_stall_during_image_cf_ms": float(max(gaps) - 10 if gaps else 0.0),
        "event_loop_ticks": len(gaps),
    }


def run() -> dict[str, Any]:
    results = {"machine": machine(), **startup(), **in_process()}
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def main() -> None:
    results = run()
    print(results)
    print(f"wrote {write_json('gui', results)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
