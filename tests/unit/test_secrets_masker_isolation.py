"""Each test starts with an empty task secrets masker, as each task does on a real worker.

``dag.test()`` runs tasks inside the pytest process, whose masker Airflow never resets; the presigned
URLs of earlier tests stayed registered, and a 100-image run late in ``make test`` took four times as
long as alone (see ``reset_task_secrets_masker`` in tests/conftest.py). These two tests run in
definition order: the first registers a value, the second finds it forgotten.
"""

from __future__ import annotations

from airflow_provider_runware.compat import mask_secret, redact

LEFT_BY_AN_EARLIER_TEST = "registered-by-the-test-before-0123456789abcdef"


def test_a_registered_value_is_masked_within_its_test() -> None:
    mask_secret(LEFT_BY_AN_EARLIER_TEST)
    assert LEFT_BY_AN_EARLIER_TEST not in str(
        redact(f"url=https://example.test/?sig={LEFT_BY_AN_EARLIER_TEST}")
    )


def test_the_next_test_starts_with_nothing_registered() -> None:
    shown = str(redact(f"sig={LEFT_BY_AN_EARLIER_TEST}"))
    assert LEFT_BY_AN_EARLIER_TEST in shown, "a value registered by an earlier test is still masked"
