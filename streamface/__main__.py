"""`python -m streamface` runs the command line."""

import sys

from streamface.cli import main

sys.exit(main())
