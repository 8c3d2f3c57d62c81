"""The escalation loop (DOMAIN.md section 6): people, notifications, decisions.

Pure functions over the exception list and the notification and decision log: who is
told what and why (:mod:`~kpi_engine.loop.status`), the digests of a run
(:mod:`~kpi_engine.loop.digests`), decisions and who may record them
(:mod:`~kpi_engine.loop.decisions`), and the frames the pages show
(:mod:`~kpi_engine.loop.views`). Delivery by SMTP and chat webhooks lives in
:mod:`~kpi_engine.loop.delivery`; :mod:`~kpi_engine.loop.service` ties them to the store.
"""
