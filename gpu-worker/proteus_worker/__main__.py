import sys

from proteus_worker.main import main

sys.exit(main())
