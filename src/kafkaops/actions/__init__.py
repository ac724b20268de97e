"""The write side: plan → dry-run → apply → verify → audit.

MSK operations (storage, broker count, broker type, reboot, configuration) validated by
guardrails *before* any AWS call (:mod:`.guardrails`), applied and polled through a small
interface over the ``kafka`` API (:mod:`.msk`), audited in the store (:mod:`.audit`); and the
runbook's automatic alert actions as an opt-in policy (:mod:`.policy`).
"""
