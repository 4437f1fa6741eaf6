"""faust layer: topics, the customer-state table and the agent that feeds it (thin: decode → core → table)."""
