"""``python -m itnio_campaign.cli`` runs the ``itnio-campaign`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
