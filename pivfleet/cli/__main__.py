"""`python -m pivfleet.cli`: the same as the `pivfleet` command."""

import sys

from pivfleet.cli.main import main

sys.exit(main())
