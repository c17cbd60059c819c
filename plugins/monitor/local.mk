# plugins/monitor: metrics, history, alert rules, notifications, /metrics.

# --- pure core (no host): /proc and /sys readers, notification channels ---
include plugins/monitor/procfs.mk
include plugins/monitor/notify.mk
