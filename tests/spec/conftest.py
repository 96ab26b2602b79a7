import pytest

# the helpers assert on behalf of the tests: let pytest show their compared values
pytest.register_assert_rewrite("tests.spec.helpers")
