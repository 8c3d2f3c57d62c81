"""The pure engine: DOMAIN.md sections 2-3 computed from one snapshot (schedule, KPIs, status, governance, escalation, the exception list)."""
