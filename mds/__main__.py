"""``python -m mds``: the ``mds`` command (see `mds.cli`)."""

from __future__ import annotations

import sys

from mds.cli import main

if __name__ == "__main__":
    sys.exit(main())
