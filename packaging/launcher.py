"""Entry point of the frozen app (PyInstaller needs a script, not a console-script entry)."""

import sys

from cfx_desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
