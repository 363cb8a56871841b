"""The web pages in a real browser: Debian's chromium, headless, driven over
WebDriver (chromium-driver + python3-selenium), against asr-web in front of
a real asr-server with a token.

- Live page: Chromium's fake microphone plays a test utterance
  (--use-file-for-fake-audio-capture); the transcript that appears equals
  `asr-client transcribe` of the same file; a dropped file likewise; a
  wrong token shows UNAUTHENTICATED.
- Dashboard: a tiny job trains while the page is open; its dev-CER curve
  gains points, the job reaches SUCCEEDED on the page, and Publish on a
  checkpoint publishes it.
- Security: a Content-Security-Policy without inline script or style under
  which both pages run without a violation; pages of another origin are
  refused on /ws and /api; a socket message that breaks the protocol closes
  the session with 1008 and the reason; asr-server down shows UNAVAILABLE;
  a refused microphone is named; a full gateway shows RESOURCE_EXHAUSTED.

With ASR_WEB_SCREENSHOTS=DIR, screenshots of both pages go there;
ASR_WEB_STEPS (1500) and ASR_WEB_JOB_STEPS (300) set the steps of the
published model and of the dashboard's job. docs/figures/web-*.png:
  ASR_WEB_SCREENSHOTS=docs/figures ASR_WEB_STEPS=3000 ASR_WEB_JOB_STEPS=1200 ctest --test-dir build -R web_test

  PYTHONPATH=build/python ASR_BIN_DIR=build/bin ASR_SOURCE_DIR=. /usr/bin/python3 tests/web/test_web.py -v
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from asr_client import Client

BIN = pathlib.Path(os.environ.get("ASR_BIN_DIR", "build/bin"))
SOURCE = pathlib.Path(os.environ.get("ASR_SOURCE_DIR", "."))
SHOTS = os.environ.get("ASR_WEB_SCREENSHOTS", "")
TOKEN = "s3cret-web"
# The tests' tiny model (python_client_test's config), trained longer: a
# model this weak turns small differences in the audio (the fake
# microphone's path) into different letters.
CONFIG = {
    "model": {"hidden_size": 48, "num_layers": 2},
    "data": {"max_batch_frames": 3000, "max_batch_utterances": 16, "spec_augment": False},
    "optimizer": {"lr": 0.003},
    "schedule": {"warmup_steps": 10},
    "train": {"epochs": 200, "max_steps": int(os.environ.get("ASR_WEB_STEPS", "1500")),
              "checkpoint_every_steps": 300, "log_every_steps": 10},
}
JOB_STEPS = int(os.environ.get("ASR_WEB_JOB_STEPS", "300"))


def start(cmd, ready, log, what):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready.exists() or not ready.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start; see {log.name}")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


class WebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(tempfile.mkdtemp(prefix="asr-web-"))
        corpus = cls.dir / "corpus"
        subprocess.run([str(SOURCE / "scripts/make-corpus.sh"), "--size", "tiny", str(corpus)], check=True,
                       stdout=subprocess.DEVNULL)
        (cls.dir / "token").write_text(TOKEN + "\n")
        cls.log = open(cls.dir / "services.log", "wb")
        cls.server, ports = start(
            [str(BIN / "asr-server"), "--listen", "127.0.0.1:0", "--metrics-listen", "", "--state-dir",
             str(cls.dir / "state"), "--data-root", str(cls.dir / "data"), "--ready-file", str(cls.dir / "server.json"),
             "--auth-token-file", str(cls.dir / "token"), "--threads", "1"], cls.dir / "server.json", cls.log,
            "asr-server")
        cls.target = f"127.0.0.1:{ports['grpc_port']}"
        cls.web, web = start([str(BIN / "asr-web"), "--listen", "127.0.0.1:0", "--server", cls.target,
                              "--ready-file", str(cls.dir / "web.json")], cls.dir / "web.json", cls.log, "asr-web")
        cls.url = f"http://127.0.0.1:{web['http_port']}"
        cls.client = Client(cls.target, token=TOKEN)
        cls.dataset = cls.client.upload_dataset(corpus, name="tiny")
        job = cls.client.train(CONFIG, dataset=cls.dataset.id, watch=True, progress=False)
        cls.client.publish(job.id, "digits")
        # Utterances from the test split as 16 kHz mono WAV (what the fake microphone plays).
        cls.wavs = []
        for line in (corpus / "test.jsonl").read_text().splitlines()[:6]:
            src = corpus / json.loads(line)["audio_filepath"]
            wav = cls.dir / (src.stem + ".wav")
            subprocess.run(["sox", str(src), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
            cls.wavs.append(wav)
        cls.wav = next(w for w in cls.wavs if cls.unary(w))  # one the model says something for

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        codes = []
        for p in (cls.web, cls.server):
            p.terminate()
            codes.append(p.wait(60))
        cls.log.close()
        if os.environ.get("ASR_KEEP_TEST_DIRS", "0") in ("", "0"):
            shutil.rmtree(cls.dir, ignore_errors=True)
        if codes != [0, 0]:  # SIGTERM: both stop cleanly
            raise AssertionError(f"asr-web, asr-server exited with {codes}")

    @classmethod
    def unary(cls, wav):
        """asr-client transcribe's utterances of `wav`, joined."""
        r = subprocess.run([str(BIN / "asr-client"), "--server", cls.target, "--token-file", str(cls.dir / "token"),
                            "--json", "transcribe", "--model", "digits", str(wav)], capture_output=True, text=True,
                           check=True, timeout=60)
        return " ".join(u["alternatives"][0]["transcript"] for u in json.loads(r.stdout).get("results", [])
                        if u.get("alternatives") and u["alternatives"][0].get("transcript"))

    def browser(self, microphone=None, url=None, allow_microphone=True):
        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
                    "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                    # Grant the microphone, or deny it as a user who says no would.
                    "--use-fake-ui-for-media-stream" if allow_microphone else "--deny-permission-prompts"):
            o.add_argument(arg)
        if microphone:
            o.add_argument(f"--use-file-for-fake-audio-capture={microphone}%noloop")
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console messages, CSP violations among them
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        self.addCleanup(driver.quit)
        driver.get(url or self.url + "/")
        driver.execute_script("localStorage.setItem('asr-token', arguments[0])", TOKEN)
        return driver

    def wait(self, driver, condition, timeout=60):
        # The jobs table is redrawn every 2 s: an element found just before may be gone.
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))

    def finals(self, driver):
        return [p.get_attribute("data-transcript") for p in driver.find_elements(By.CSS_SELECTOR, "#transcript p.final")]

    def test_live_microphone_transcript_equals_the_cli(self):
        d = self.browser(microphone=self.wav)
        d.get(self.url + "/?trace")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        d.find_element(By.ID, "start").click()
        # The file plays once, then the microphone is silent: the endpoint closes the utterance.
        self.wait(d, lambda d: self.finals(d))
        time.sleep(2)  # any later utterance of the file
        d.find_element(By.ID, "stop").click()
        self.wait(d, lambda d: d.find_element(By.ID, "start").is_enabled())
        self.assertEqual(" ".join(self.finals(d)), self.unary(self.wav))
        self.assertFalse(d.find_element(By.ID, "error").is_displayed(), d.find_element(By.ID, "error").text)
        # Words carry their times on hover.
        word = d.find_element(By.CSS_SELECTOR, "#transcript p.final .word")
        self.assertRegex(word.get_attribute("title"), r"^\d+\.\d\d–\d+\.\d\d s · confidence \d\.\d\d$")
        # ?trace (what scripts/bench-web-latency.py reads): 100 ms chunks in order, responses covering them.
        trace = d.execute_script("return window.asrTrace")
        sent = [e["sent"] for e in trace if "sent" in e]
        self.assertGreater(len(sent), 10)
        steps = [b - a for a, b in zip(sent, sent[1:])]
        # Whole 100 ms chunks; the flush at Stop may send a shorter last one.
        self.assertTrue(all(abs(x - 0.1) < 1e-6 for x in steps[:-1]) and 0 < steps[-1] < 0.1 + 1e-6, steps)
        processed = [e["processed"] for e in trace if "processed" in e]
        self.assertGreaterEqual(max(processed), sent[-1] - 0.2)
        self.assertEqual(processed, sorted(processed))
        if SHOTS:
            d.save_screenshot(os.path.join(SHOTS, "web-transcribe.png"))

    def test_dropped_file_and_errors(self):
        d = self.browser()
        d.get(self.url + "/")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        for wav in self.wavs[:3]:
            before = len(self.finals(d))
            d.find_element(By.ID, "file").send_keys(str(wav))
            self.wait(d, lambda d: d.find_element(By.ID, "start").is_enabled() and d.find_element(By.ID, "file").is_enabled())
            self.assertEqual(" ".join(self.finals(d)[before:]), self.unary(wav), wav)
        # A wrong token: the models call fails with the gRPC code, shown on the page.
        d.execute_script("localStorage.setItem('asr-token', 'wrong')")
        d.get(self.url + "/")
        error = self.wait(d, lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"))
        self.assertIn("UNAUTHENTICATED", error.text)

    def test_dashboard_follows_a_training_job_and_publishes(self):
        d = self.browser()
        config = json.loads(json.dumps(CONFIG))
        config["train"].update(max_steps=JOB_STEPS, checkpoint_every_steps=max(100, JOB_STEPS // 3))
        job = self.client.train(config, dataset=self.dataset.id, watch=False)
        d.get(self.url + "/dashboard.html")
        self.wait(d, lambda d: d.find_element(By.CSS_SELECTOR, f"tr.job[data-job='{job.id}']").click() or True)
        cer = d.find_element(By.ID, "cer-chart")
        self.wait(d, lambda d: int(cer.get_attribute("data-points")) >= 1)
        first = int(cer.get_attribute("data-points"))
        self.wait(d, lambda d: int(cer.get_attribute("data-points")) > first, timeout=120)
        self.wait(d, lambda d: d.find_element(By.CSS_SELECTOR, f"tr.job[data-job='{job.id}']").get_attribute(
            "data-state") == "SUCCEEDED", timeout=240)
        self.wait(d, lambda d: d.find_element(By.ID, "job-state").text == "SUCCEEDED")
        self.assertGreater(int(d.find_element(By.ID, "loss-chart").get_attribute("data-points")), 5)
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#cer-chart .best")), 1)
        # Publish the first checkpoint from the page.
        name = d.find_element(By.ID, "publish-name")
        name.clear()
        name.send_keys("web")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#checkpoints button.publish"))[0].click()
        self.wait(d, lambda d: "published web:1" in d.find_element(By.ID, "publish-result").text)
        self.assertIn(("web", 1), [(m.name, m.version) for m in self.client.models()])
        self.wait(d, lambda d: "web:1" in d.find_element(By.ID, "models").text, timeout=15)
        if SHOTS:
            d.save_screenshot(os.path.join(SHOTS, "web-dashboard.png"))

    def handshake(self, origin):
        """The HTTP status of a WebSocket handshake on /ws/recognize sent with `origin`."""
        host = self.url[len("http://"):]
        addr, port = host.split(":")
        with socket.create_connection((addr, int(port)), timeout=10) as s:
            s.sendall((f"GET /ws/recognize HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
            return int(s.recv(4096).split()[1])

    def test_same_origin_policy_and_protocol_errors(self):
        with urllib.request.urlopen(self.url + "/") as r:
            csp = r.headers["Content-Security-Policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertIn("style-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        # A page of another origin may neither open a socket nor call /api; the gateway's own may.
        self.assertEqual(self.handshake("http://evil.example"), 403)
        self.assertEqual(self.handshake(self.url), 101)
        req = urllib.request.Request(self.url + "/api/models",
                                     headers={"Origin": "http://evil.example", "Authorization": "Bearer " + TOKEN})
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req)
        self.assertEqual(refused.exception.code, 403)
        self.assertIn("PERMISSION_DENIED", refused.exception.read().decode())
        # In the browser: both pages run under the policy without a violation, and a socket
        # message that breaks the protocol ends the session with 1008 and the reason.
        d = self.browser()
        d.get(self.url + "/dashboard.html")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.job"))
        d.get(self.url + "/")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        closed = d.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const ws = new WebSocket(asr.socketUrl('/ws/recognize'));
            let status = null;
            ws.onopen = () => ws.send(new Uint8Array([1, 2, 3]));
            ws.onmessage = (e) => { status = JSON.parse(e.data).status; };
            ws.onclose = (e) => done({code: e.code, reason: e.reason, status: status});""")
        self.assertEqual(closed["code"], 1008, closed)
        self.assertIn("the first message must be the JSON config", closed["reason"])
        self.assertEqual(closed["status"]["code"], "INVALID_ARGUMENT")
        console = [e["message"] for e in d.get_log("browser")]
        self.assertFalse([m for m in console if "Content Security Policy" in m], console)

    def test_microphone_permission_denied_is_shown(self):
        d = self.browser(allow_microphone=False)
        d.get(self.url + "/")
        self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        d.find_element(By.ID, "start").click()
        error = self.wait(d, lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"))
        self.assertIn("Microphone permission denied", error.text)
        self.assertTrue(d.find_element(By.ID, "start").is_enabled())

    def test_a_full_gateway_is_shown(self):
        ready = self.dir / "web-full.json"
        web, info = start([str(BIN / "asr-web"), "--listen", "127.0.0.1:0", "--server", self.target,
                           "--max-sessions", "1", "--ready-file", str(ready)], ready, self.log, "asr-web (one session)")
        try:
            url = f"http://127.0.0.1:{info['http_port']}"
            d = self.browser(url=url + "/")
            d.get(url + "/")
            self.wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
            with socket.create_connection(("127.0.0.1", info["http_port"]), timeout=10) as held:
                held.sendall((f"GET /ws/recognize HTTP/1.1\r\nHost: 127.0.0.1:{info['http_port']}\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
                self.assertIn(b" 101 ", held.recv(4096))  # the one session, held open
                d.find_element(By.ID, "file").send_keys(str(self.wavs[0]))
                error = self.wait(d, lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"))
                self.assertIn("RESOURCE_EXHAUSTED", error.text)
        finally:
            web.terminate()
            self.assertEqual(web.wait(60), 0)

    def test_server_down_is_shown(self):
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        ready = self.dir / "web-down.json"
        web, info = start([str(BIN / "asr-web"), "--listen", "127.0.0.1:0", "--server", f"127.0.0.1:{dead}",
                           "--ready-file", str(ready)], ready, self.log, "asr-web (server down)")
        try:
            d = self.browser(url=f"http://127.0.0.1:{info['http_port']}/")
            error = self.wait(d, lambda d: d.find_element(By.ID, "error").is_displayed() and d.find_element(By.ID, "error"))
            self.assertIn("UNAVAILABLE", error.text)
        finally:
            web.terminate()
            self.assertEqual(web.wait(60), 0)


if __name__ == "__main__":
    unittest.main()
