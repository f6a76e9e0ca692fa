"""``python -m iop ...``: the ``iop`` command without an installed entry point."""

import sys

from iop.cli import main

sys.exit(main())
