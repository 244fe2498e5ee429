#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # One line saying what to do, not a 60-line traceback.
        from progressproject.preflight import describe_database_error

        sys.exit(f"error: {describe_database_error(exc)}")


if __name__ == "__main__":
    main()
