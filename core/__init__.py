"""The shared kernel: what every app may import. It imports no app, and not perf or config."""
