import sys

from compliance_assets.cli import main

sys.exit(main())
