"""The labtrack agent (`labtrack agent --queue gpu`): runs queued tasks on this machine.

Modules, lowest first: `resources` (CPU, memory, GPUs), `console` (live console to the task),
`code` (materialise the task's code), `environments` (cached venvs), `notebooks` (parameter
injection), `runner` (the child process), `api` (HTTP calls), `settings`, `execution` (one task, end to end),
`daemon` (register, poll, heartbeat), `cli`. `notebook_exec` runs in the task's environment, as the
child of a notebook task. Everything goes through the HTTP API: nothing here imports labtrack.server.
"""
