"""``python -m hwtest``: see hwtest/README.md."""

from __future__ import annotations

import logging
import os
import sys

from .cli import main

if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("HWTEST_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(main())
