"""``python -m kafkaops``: the command line."""

from kafkaops.cli.main import main

if __name__ == "__main__":
    main()
