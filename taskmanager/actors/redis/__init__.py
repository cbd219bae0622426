"""The Redis backend: the service's state in Redis, so that several replicas form one service.

Task records, the queue, the event log, idempotency keys and the rate limiter's windows
live in Redis. The actors stay as they are: each replica runs its own store gateway, dispatcher,
workers, event reader, limiter and janitor. What changes is where their state lives;
every change of a task is one Lua script (``lua/``) that checks the status, moves the
indexes, keeps the counts and appends the event in one step.
"""
