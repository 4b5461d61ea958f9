"""``python -m jaxcollapse.cli``: the same as the ``jaxcollapse`` console script."""

import sys

from jaxcollapse.cli import main

sys.exit(main())
