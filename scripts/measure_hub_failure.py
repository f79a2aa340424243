"""How long loading a Hub model takes to fail on a dead network, with huggingface_hub's default timeouts.

    python scripts/measure_hub_failure.py            # fpliif.from_pretrained("user/model")
    python scripts/measure_hub_failure.py --raw      # also hf_hub_download alone (about 6 minutes: six 60 s tries)

Three dead networks: a server on the loopback interface that accepts connections and never answers, a loopback
port where nothing listens (connection refused), and a host name under ``.invalid``, which never resolves. Each
load runs in a fresh Python process with an empty Hugging Face cache. The numbers go to docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOAD = """
import json, sys, time
from huggingface_hub import hf_hub_download
from fpliif import from_pretrained
start = time.monotonic()  # after the imports: the time spent on the network
try:
    if sys.argv[1] == "raw":
        hf_hub_download("user/model", "config.json")
    else:
        from_pretrained("user/model")
    outcome = "loaded"
except Exception as e:
    outcome = f"{type(e).__name__}: {e}"
print(json.dumps({"seconds": round(time.monotonic() - start, 1), "outcome": outcome}))
"""


def silent_server() -> tuple[str, socket.socket]:
    """A server that accepts and never answers (its connections are held until the process ends)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held = []
    threading.Thread(target=lambda: [held.append(sock.accept()[0]) for _ in iter(int, 1)], daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def measure(endpoint: str, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and "proxy" not in k.lower()}
        env.update(HF_ENDPOINT=endpoint, HF_HOME=home, HF_HUB_DISABLE_TELEMETRY="1", NO_PROXY="127.0.0.1",
                   PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", LOAD, mode], env=env, capture_output=True, text=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", action="store_true", help="also time hf_hub_download alone (takes minutes)")
    args = ap.parse_args()
    silent, _sock = silent_server()
    # .invalid never resolves (RFC 2606): the answer of a machine without DNS, or of a DNS server, in an instant
    networks = {"never answers": silent, "connection refused": closed_port(), "no DNS": "http://fpliif-test.invalid"}
    modes = ["fpliif"] + (["raw"] if args.raw else [])
    print("| network | loader | seconds to fail | message |\n|---|---|---|---|")
    for name, endpoint in networks.items():
        for mode in modes:
            result = measure(endpoint, mode)
            loader = "fpliif.from_pretrained" if mode == "fpliif" else "hf_hub_download"
            print(f"| {name} | {loader} | {result['seconds']} | {result['outcome'][:160]} |", flush=True)


if __name__ == "__main__":
    main()
