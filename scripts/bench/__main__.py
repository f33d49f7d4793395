"""``python -m scripts.bench``: run the benchmark suite (see run.py)."""

from scripts.bench.run import main

raise SystemExit(main())
