"""The pieces of scripts/soak.py: processes (the server and load tester under
test), sockets (python clients), report (results and the markdown table), and
the scenarios by theme: scale, readers, limits, hostile, lifecycle."""
