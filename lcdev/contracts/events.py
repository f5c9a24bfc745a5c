"""Event contracts of ``lcdev test``: a consumer reads only what its producer publishes.

Two checks, one ``Finding`` per subscription (``payments.PaymentProcessed -> orders``):

- :func:`check_event_compatibility` (static, events_static.py): the fields each ``consumes``
  entry reads exist in the producer's payload with compatible types and required-ness;
- :func:`run_event_checks` (runtime, events_runtime.py): generated events published on the
  producer's topic are processed by the consumer, an invalid one is dead-lettered.
"""

from __future__ import annotations

from lcdev.contracts.events_runtime import EventTarget, run_event_checks
from lcdev.contracts.events_static import check_event_compatibility

__all__ = ["EventTarget", "check_event_compatibility", "run_event_checks"]
