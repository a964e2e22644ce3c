pytest_plugins = ["tests.infra.fixtures", "tests.infra.ci_guard", "tests.infra.stack_fixtures"]
