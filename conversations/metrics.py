"""Prometheus metrics of the conversations: steps, their latency, tickets created."""
from prometheus_client import Counter, Histogram

STEPS = Counter("repairbot_conversation_steps_total", "Messages handled by the conversation engine", ["channel"])
STEP_SECONDS = Histogram(
    "repairbot_conversation_step_seconds", "Lock, load, step and save of one message",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
TICKETS_CREATED = Counter("repairbot_tickets_created_total", "Tickets created", ["channel", "category"])
DRAFTS_EXPIRED = Counter("repairbot_drafts_expired_total", "Idle drafts closed by the sweeper")
STATE_EVICTED = Counter("repairbot_state_evicted_total",
                        "Live in-memory conversations forgotten because the state was full (max_conversations)")
