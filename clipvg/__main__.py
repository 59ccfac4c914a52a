"""``python -m clipvg COMMAND ...``: the same command line as the ``clipvg`` script."""

import sys

from clipvg.cli import main

if __name__ == "__main__":
    sys.exit(main())
