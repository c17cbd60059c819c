# plugins/monitor: metrics, history, alert rules, notifications, /metrics.

# --- pure core (no host): /proc and /sys readers ---
include plugins/monitor/procfs.mk
