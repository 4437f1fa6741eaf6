"""`python -m service` is the same as the `kairos` command."""

import sys

from service.cli import main

sys.exit(main())
