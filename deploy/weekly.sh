#!/bin/sh
# The weekly job: at WEEKLY_AT (ISO weekday-HH:MM in the container's time zone, default
# Monday 06:00) store the exports waiting in the inbox folder (KPI_INBOX, default /exports)
# as one upload, send the escalation digests, then compact the store. Runs until stopped;
# each upload's result is in the folder's inbox.log, each notification run on the
# dashboard's History page.
set -u
at="${WEEKLY_AT:-1-06:00}"
inbox="${KPI_INBOX:-/exports}"
last=""
echo "weekly job: ingest ${inbox} and notify every week at ${at} (weekday-HH:MM, 1 = Monday)"
while :; do
  today="$(date +%F)"
  if [ "$(date +%u-%H:%M)" = "$at" ] && [ "$last" != "$today" ]; then
    last="$today"
    # one-shot inbox: stores what is there, moves it to done/ or rejected/ (with its problems)
    python -m kpi_engine ingest "$inbox" --move-done "$inbox/done" --move-rejected "$inbox/rejected"
    # a digest a server refused makes notify exit 1; the next run sends it
    python -m kpi_engine notify --dashboard-url "$DASHBOARD_URL" || echo "weekly job: some digests were not sent" >&2
    # merge the week's small data files; delete those unused for a day (nothing stored changes)
    python -m kpi_engine compact || echo "weekly job: compacting the store failed; the next run tries again" >&2
    echo "weekly job: run of ${today} done"
  fi
  sleep 20
done
