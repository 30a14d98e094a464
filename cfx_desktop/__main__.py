"""``python -m cfx_desktop`` and the ``cfx-desktop`` console script."""

from __future__ import annotations

import sys


def main() -> int:
    from cfx_desktop.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
