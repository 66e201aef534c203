import sys

from node.cli.main import main

# Guarded: the verify worker processes (node/federation/verify.py) are spawned, and a spawned
# child imports the parent's main module again; it must not run the command a second time.
if __name__ == "__main__":
    sys.exit(main())
