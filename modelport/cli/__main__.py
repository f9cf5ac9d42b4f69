"""``python -m modelport.cli``: the same as the ``modelport`` command."""

from __future__ import annotations

import sys

from modelport.cli import main

sys.exit(main())
