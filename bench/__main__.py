"""`python -m bench`: the same CLI as the `bench` console script."""

from bench.cli import main

raise SystemExit(main())
