"""``python -m bptt``: the ``bptt`` command."""

import sys

from bptt.cli import main

sys.exit(main())
