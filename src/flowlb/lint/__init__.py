"""``flowlb lint``: HAProxy's own check plus Flow-specific rules on an operator's haproxy.cfg, no cluster needed."""
