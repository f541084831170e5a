"""`python -m cli ...`, the same as the installed `coder` script."""

import sys

from cli import main

sys.exit(main())
