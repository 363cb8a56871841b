#!/usr/bin/python3
"""How much latency the web page (browser -> asr-web -> asr-server) adds over
a direct gRPC stream to the same server.

Starts asr-server (publishing MODEL as "bench" with --import-model) and
asr-web on loopback, then ROUNDS times, alternately:
  page    headless Chromium opens /?trace with its fake microphone playing
          WAV (looped), streams for SECONDS and stops; the page's trace
          (live.js) says when each 100 ms chunk went into the WebSocket and
          when each response came out of it;
  direct  the same WAV, looped, in 100 ms LINEAR16 chunks paced in real time
          over StreamingRecognize from Python (grpcio), timed the same way.
A chunk's latency runs from its send to the arrival of the first response
whose processed_audio_seconds covers its end (as asr-client bench-stream
measures). The first second of each stream is left out: the page sends what
it captured while its socket opened all at once. Prints one JSON line per
round and a pooled summary (p50/p95/p99 of both and the page's excess).
With --background-streams N, asr-client bench-stream keeps N other
real-time streams on the server throughout, so that both paths meet a
loaded, batching server.

  PYTHONPATH=build/python /usr/bin/python3 scripts/bench-web-latency.py \\
      --model runs/default/model.asrmodel --wav UTT.wav [--seconds 30] [--rounds 3] \\
      [--background-streams 100]
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import wave

import grpc
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from asr_client._pb.asr.v1 import recognition_pb2 as rpb
from asr_client._pb.asr.v1 import recognition_pb2_grpc

CHUNK_SECONDS = 0.1
WARMUP_SECONDS = 1.0


def start(cmd, ready, log):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready.exists() or not ready.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench-web-latency: {cmd[0]} did not start; see {log.name}")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


def latencies(sends, responses):
    """sends: [(audio seconds sent so far, t)], responses: [(processed seconds, t)], t in ms;
    the latency in ms of each chunk past the warm-up that a response covered."""
    out, j = [], 0
    for end, t in sends:
        while j < len(responses) and (responses[j][0] + 1e-6 < end or responses[j][1] < t):
            j += 1
        if j == len(responses):
            break
        if end > WARMUP_SECONDS:
            out.append(responses[j][1] - t)
    return out


def percentiles(values):
    v = sorted(values)
    pick = lambda q: round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else None
    return {"chunks": len(v), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99)}


def run_page(url, wav, seconds):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}",
                "--autoplay-policy=no-user-gesture-required"):
        o.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    try:
        d.get(url + "/?trace")
        WebDriverWait(d, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        d.find_element(By.ID, "start").click()
        time.sleep(seconds)
        d.find_element(By.ID, "stop").click()
        WebDriverWait(d, 60).until(lambda d: d.find_element(By.ID, "start").is_enabled())
        trace = d.execute_script("return window.asrTrace")
    finally:
        d.quit()
    sends = [(e["sent"], e["t"]) for e in trace if "sent" in e]
    responses = [(e["processed"], e["t"]) for e in trace if "processed" in e]
    return latencies(sends, responses)


def run_direct(target, pcm, seconds):
    chunk = int(16000 * CHUNK_SECONDS) * 2
    n = int(seconds / CHUNK_SECONDS)
    looped = pcm + pcm[:chunk]  # a chunk that wraps around the end of the file
    sends, lock = [], threading.Lock()
    t0 = time.monotonic()

    def requests():
        yield rpb.StreamingRecognizeRequest(config=rpb.RecognitionConfig(
            model="bench", encoding=rpb.LINEAR16, sample_rate_hertz=16000,
            interim_results=True))
        for k in range(n):
            # Chunk k holds audio up to (k + 1) * 0.1 s, as a microphone would deliver it.
            time.sleep(max(0.0, t0 + (k + 1) * CHUNK_SECONDS - time.monotonic()))
            i = (k * chunk) % len(pcm)
            data = looped[i:i + chunk]
            with lock:
                sends.append(((k + 1) * CHUNK_SECONDS, time.monotonic() * 1000))
            yield rpb.StreamingRecognizeRequest(audio=data)

    responses = []
    with grpc.insecure_channel(target) as channel:
        stub = recognition_pb2_grpc.RecognitionServiceStub(channel)
        for resp in stub.StreamingRecognize(requests()):
            responses.append((resp.processed_audio_seconds, time.monotonic() * 1000))
    with lock:
        return latencies(sends, responses)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help=".asrmodel file to serve")
    ap.add_argument("--wav", required=True, help="16 kHz mono 16-bit WAV (looped)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--threads", type=int, default=2, help="asr-server --threads")
    ap.add_argument("--background-streams", type=int, default=0,
                    help="other real-time streams the server carries meanwhile (asr-client bench-stream)")
    args = ap.parse_args()
    with wave.open(args.wav) as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (16000, 1, 2):
            raise SystemExit("bench-web-latency: --wav must be 16 kHz mono 16-bit")
        pcm = w.readframes(w.getnframes())
    binary = pathlib.Path(args.bin)
    work = pathlib.Path(tempfile.mkdtemp(prefix="asr-web-latency-"))
    log = open(work / "services.log", "wb")
    procs = []
    try:
        server, ports = start([str(binary / "asr-server"), "--listen", "127.0.0.1:0", "--metrics-listen", "",
                               "--state-dir", str(work / "state"), "--import-model",
                               f"bench={os.path.abspath(args.model)}", "--threads", str(args.threads),
                               "--ready-file", str(work / "server.json")], work / "server.json", log)
        procs.append(server)
        target = f"127.0.0.1:{ports['grpc_port']}"
        web, info = start([str(binary / "asr-web"), "--listen", "127.0.0.1:0", "--server", target,
                           "--ready-file", str(work / "web.json")], work / "web.json", log)
        procs.append(web)
        url = f"http://127.0.0.1:{info['http_port']}"
        if args.background_streams:
            # Load for the whole run (the browser's start-up included), then stopped.
            procs.append(subprocess.Popen(
                [str(binary / "asr-client"), "--server", target, "bench-stream", "--streams",
                 str(args.background_streams), "--duration", str(args.rounds * 2 * (args.seconds + 30)),
                 "--audio", os.path.abspath(args.wav), "--model", "bench"], stdout=log, stderr=subprocess.STDOUT))
            time.sleep(5)
        pooled = {"page": [], "direct": []}
        for r in range(args.rounds):
            for kind in ("page", "direct") if r % 2 == 0 else ("direct", "page"):
                lat = run_page(url, os.path.abspath(args.wav), args.seconds) if kind == "page" else \
                    run_direct(target, pcm, args.seconds)
                pooled[kind] += lat
                print(json.dumps({"round": r + 1, "path": kind, **percentiles(lat)}), flush=True)
        page, direct = percentiles(pooled["page"]), percentiles(pooled["direct"])
        excess = {k: round(page[k] - direct[k], 1) for k in ("p50_ms", "p95_ms", "p99_ms")
                  if page[k] is not None and direct[k] is not None}
        print(json.dumps({"pooled": {"page": page, "direct": direct, "page_minus_direct": excess},
                          "seconds": args.seconds, "rounds": args.rounds, "chunk_ms": CHUNK_SECONDS * 1000,
                          "background_streams": args.background_streams}))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
