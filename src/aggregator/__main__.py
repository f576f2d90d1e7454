"""`python -m aggregator` runs the same command line as the `aggregator` script."""

from aggregator.cli import main

if __name__ == "__main__":
    main()
