import sys

from gateway.channels.cli import main

sys.exit(main())
