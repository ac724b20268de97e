"""``python -m kafkaops.cli`` (and ``python -m kafkaops``) run the command line."""

from kafkaops.cli.main import main

if __name__ == "__main__":
    main()
