"""`config.settings` with the bench's URL configuration (bench/support/bare.py): the service plus one bare view."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.support.bare"
