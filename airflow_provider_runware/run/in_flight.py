"""The connection's ``max_images_in_flight``: what a worker can check before it pays.

A limit that must hold across the workers of a deployment needs one place that admits work
atomically. Airflow 3 workers have no database, and what the task SDK offers them (Variables, XCom,
the task state store) has no compare-and-set, so a count kept there could be overshot by two workers
reading it at once. The scheduler has that place: a **pool**. It admits a task instance only while the
``pool_slots`` of the pool's queued, running and (with ``include_deferred``) deferred task instances
fit its size, whichever worker or triggerer ends up holding them.

So the limit is enforced by a pool of ``max_images_in_flight`` slots, created with
``include_deferred``, that every task on the connection runs in with one slot per image. Workers
cannot read a pool's size; what they can check is that the task itself keeps the rule: it runs in a
pool (not ``default_pool``), holds a slot for every image it may have in flight, and asks for no more
images than the limit (or it could never be admitted by a correctly sized pool).
"""

from __future__ import annotations

from airflow_provider_runware.exceptions import RunwareValidationError

DEFAULT_POOL = "default_pool"


def check_in_flight_limit(
    *, limit: int | None, images: int, pool: str | None, pool_slots: int, conn_id: str
) -> None:
    """Refuse, before anything is submitted, a task that would not be counted against the limit."""
    if limit is None:
        return
    rule = (
        f"connection {conn_id!r} sets max_images_in_flight={limit}, which an Airflow pool of {limit} "
        "slots created with include_deferred enforces (`airflow pools set <name> "
        f"{limit} '<description>' --include-deferred`)"
    )
    if images > limit:
        raise RunwareValidationError(
            f"This task asks for {images} images but {rule}: it could never run; split it into "
            f"tasks of at most {limit} images",
            parameter="requests",
        )
    if not pool or pool == DEFAULT_POOL:
        raise RunwareValidationError(
            f"This task runs in {DEFAULT_POOL!r} but {rule}: run it with pool='<name>' and "
            f"pool_slots={images} (one slot per image); nothing was submitted",
            parameter="pool",
        )
    if pool_slots < images:
        raise RunwareValidationError(
            f"This task asks for {images} images but holds pool_slots={pool_slots} of pool {pool!r}, "
            f"and {rule}: set pool_slots={images} (one slot per image); nothing was submitted",
            parameter="pool_slots",
        )
