"""The supervisors' live wallboard (queues, agents, overdue inquiries, flagged calls) and their actions."""
