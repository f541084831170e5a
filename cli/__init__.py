"""The `coder` command (`cli.main`) and what it runs beside the services: `coder dev`
(`cli.dev`), its supervised companion processes (`cli.supervisor`, declared in
`cli.companions`), and the commands for one service, the edge, health, sign-in and Envoy.

This package sits above what it composes: it may import `services` and `edge`; neither
imports it (tests/services/test_layers.py keeps `services/` free of upward imports)."""

import os

# `coder dev` forks its companions with a `preexec_fn` (cli/supervisor.py), and gRPC's fork
# handlers would log a line on every fork saying they skip themselves. The child execs at once
# and never uses this process's gRPC, so they have nothing to do. This runs before any module
# of the package imports grpc; a value already in the environment is left alone.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
