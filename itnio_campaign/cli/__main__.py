"""``python -m itnio_campaign.cli`` runs the ``itnio-campaign`` command."""

import sys

from . import main

sys.exit(main())
