"""``python -m pgnas_core``: the ``pgnas`` command (as torchrun launches it)."""

import sys

from .run.cli import main

sys.exit(main())
