pytest_plugins = [
    "tests.infra.workers",  # first: the plugins below import it
    "tests.infra.fixtures",
    "tests.infra.ci_guard",
    "tests.infra.disk_watch",
    "tests.infra.stack_fixtures",
]
