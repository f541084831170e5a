"""`python -m cli ...`, the same as the installed `coder` script."""

import sys

from cli.main import main

sys.exit(main())
