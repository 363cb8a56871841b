"""The Python client (client/python, built into build/python) against a real
asr-server with a token: upload the tiny corpus, train with a progress bar,
watch, publish, transcribe (equal to asr-client's), stream in real time with
interim results, phrases, download the model and load its export in plain
PyTorch, reflection-based calls, and clear errors for bad input.

Run by ctest (python_client_test) with Debian's python3-grpcio:
  PYTHONPATH=build/python ASR_BIN_DIR=build/bin ASR_SOURCE_DIR=. /usr/bin/python3 tests/python/test_asr_client.py -v
"""
import contextlib
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import unittest
import wave

import grpc

import asr_client
from asr_client import Client, Error, audio_chunks, wav_rate
from asr_client import reflection

BIN = pathlib.Path(os.environ.get("ASR_BIN_DIR", "build/bin"))
SOURCE = pathlib.Path(os.environ.get("ASR_SOURCE_DIR", "."))
TOKEN = "s3cret-python"
# The tests' tiny model (tests/support/corpus.cc, TinyTrainingConfig), 900
# steps: about 25 s on one thread, dev CER ~0.3, so that it transcribes.
CONFIG = {
    "model": {"hidden_size": 48, "num_layers": 2},
    "data": {"max_batch_frames": 3000, "max_batch_utterances": 16, "spec_augment": False},
    "optimizer": {"lr": 0.003},
    "schedule": {"warmup_steps": 10},
    "train": {"epochs": 50, "max_steps": 900, "checkpoint_every_steps": 100, "log_every_steps": 10},
}


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = pathlib.Path(tempfile.mkdtemp(prefix="asr-python-"))
        corpus = cls.dir / "corpus"
        subprocess.run([str(SOURCE / "scripts/make-corpus.sh"), "--size", "tiny", str(corpus)], check=True,
                       stdout=subprocess.DEVNULL)
        (cls.dir / "token").write_text(TOKEN + "\n")
        ready = cls.dir / "ready.json"
        cls.log = open(cls.dir / "server.log", "wb")
        cls.server = subprocess.Popen(
            [str(BIN / "asr-server"), "--listen", "127.0.0.1:0", "--metrics-listen", "", "--state-dir",
             str(cls.dir / "state"), "--data-root", str(cls.dir / "data"), "--ready-file", str(ready),
             "--auth-token-file", str(cls.dir / "token"), "--threads", "1"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text():
            if cls.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("asr-server did not start: " + (cls.dir / "server.log").read_text())
            time.sleep(0.1)
        cls.target = f"127.0.0.1:{json.loads(ready.read_text())['grpc_port']}"
        cls.client = Client(cls.target, token=TOKEN)
        cls.test_wavs = [corpus / json.loads(l)["audio_filepath"]
                         for l in (corpus / "test.jsonl").read_text().splitlines()[:3]]
        # Upload, train (watched, with a bar drawn into a buffer), publish.
        cls.dataset = cls.client.upload_dataset(corpus, name="tiny")
        cls.bar = io.StringIO()
        cls.job = cls.client.train(CONFIG, dataset=cls.dataset.id, watch=True, progress=cls.bar)
        cls.version = cls.client.publish(cls.job.id, "digits")

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.terminate()
        cls.server.wait(60)
        cls.log.close()
        if os.environ.get("ASR_KEEP_TEST_DIRS", "0") in ("", "0"):
            shutil.rmtree(cls.dir, ignore_errors=True)

    def cli(self, *args):
        r = subprocess.run([str(BIN / "asr-client"), "--server", self.target, "--token-file",
                            str(self.dir / "token"), *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_upload_train_watch_publish(self):
        self.assertEqual(self.dataset.utterances["train.jsonl"], 240)
        self.assertEqual(self.job.state, asr_client.training_pb2.SUCCEEDED, self.job)
        self.assertEqual(self.job.progress.step, 900)
        self.assertIn("900/900", self.bar.getvalue(), "the progress bar reached the last step")
        self.assertIn("loss=", self.bar.getvalue())
        self.assertIn(self.job.id, [j.id for j in self.client.jobs(state="succeeded")])
        events = list(self.client.watch(self.job.id))
        self.assertEqual(events[-1].state, asr_client.training_pb2.SUCCEEDED)
        self.assertEqual([e.sequence for e in events], list(range(1, len(events) + 1)))
        self.assertTrue(self.client.checkpoints(self.job.id))
        self.assertEqual((self.version.name, self.version.version), ("digits", 1))
        self.assertEqual([(m.name, m.version) for m in self.client.models()], [("digits", 1)])

    def test_transcribe_equals_the_cli(self):
        for wav in self.test_wavs:
            mine = self.client.transcribe(wav, word_times=True)  # the only published model by default
            self.assertTrue(mine.transcript, "the model transcribes")
            self.assertTrue(mine.alternatives[0].words)
            theirs = json.loads(self.cli("--json", "transcribe", "--model", "digits", str(wav)))
            self.assertEqual(mine.transcript, theirs.get("alternatives", [{}])[0].get("transcript", ""), wav)
            self.assertEqual(mine.model, "digits:1")
            self.assertTrue(mine.utterances)
            self.assertLess(mine.utterances[0].start_time, mine.utterances[-1].end_time)
            self.assertEqual(len(self.client.transcribe(wav, endpoint_silence=-1).utterances), 1)
            self.assertEqual(self.client.transcribe(wav.read_bytes(), model="digits").transcript, mine.transcript)
            for w in mine.alternatives[0].words:
                self.assertLessEqual(0, w.start)
                self.assertLessEqual(w.start, w.end)
            # Phrases reach the server in all three forms, as the CLI sends them.
            boosted = self.client.transcribe(wav, phrases={"oh": 8})
            self.assertEqual(self.client.transcribe(wav, phrases=[("oh", 8)]).transcript, boosted.transcript)
            theirs = json.loads(self.cli("--json", "transcribe", "--phrase", "oh:8", str(wav)))
            self.assertEqual(boosted.transcript, theirs.get("alternatives", [{}])[0].get("transcript", ""))
            self.client.transcribe(wav, phrases=["seven"])

    def test_real_time_stream_has_interim_results_and_the_unary_final(self):
        wav = self.test_wavs[0]
        start = time.monotonic()
        results = list(self.client.stream(audio_chunks(wav, chunk_ms=100, realtime=True), sample_rate=wav_rate(wav),
                                          interim_results=True))
        elapsed = time.monotonic() - start
        finals = [r for r in results if r.is_final]
        self.assertTrue(any(not r.is_final for r in results), "interim results while the audio came in")
        self.assertEqual(" ".join(r.transcript for r in finals if r.transcript),
                         self.client.transcribe(wav).transcript)
        with __import__("wave").open(str(wav)) as w:
            seconds = w.getnframes() / w.getframerate()
        self.assertGreater(elapsed, 0.8 * seconds, "sent in real time")
        events = [r.event for r in self.client.stream(audio_chunks(wav), sample_rate=wav_rate(wav),
                                                      interim_results=False, speech_events=True) if r.event]
        self.assertEqual(events, ["SPEECH_BEGIN", "SPEECH_END"])

    def test_download_model(self):
        path = self.dir / "digits.asrmodel"
        info = self.client.download_model("digits", path)
        self.assertEqual(info.version, 1)
        self.assertEqual(hashlib.sha256(path.read_bytes()).hexdigest(), info.sha256)
        self.assertEqual(info.sha256, self.version.sha256)
        cli_path = self.dir / "cli.asrmodel"
        self.cli("models", "download", "digits:1", "--out", str(cli_path))
        self.assertEqual(cli_path.read_bytes(), path.read_bytes(), "asr-client models download wrote the same file")
        r = subprocess.run([str(BIN / "asr-client"), "--server", self.target, "--token-file", str(self.dir / "token"),
                            "models", "download", "digits:7", "--out", str(self.dir / "v7")], capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("NOT_FOUND", r.stderr)
        self.assertFalse((self.dir / "v7").exists())
        with self.assertRaises(Error) as e:
            self.client.download_model("nope", self.dir / "nope.asrmodel")
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertFalse((self.dir / "nope.asrmodel").exists())
        self.assertFalse((self.dir / "nope.asrmodel.part").exists())

    def test_exported_model_in_pytorch_matches_the_server(self):
        """asr-export's safetensors + JSON, loaded by the plain PyTorch module
        of client/python (written from the paper's equations), give the C++
        model's log-probabilities within 1e-4 and the server's transcripts."""
        import numpy
        import torch
        from asr_client.torch_model import ExportedModel

        model_file, out = self.dir / "export.asrmodel", self.dir / "export"
        self.client.download_model("digits", model_file)
        refs = [arg for wav in self.test_wavs for arg in ("--reference-audio", str(wav))]
        subprocess.run([str(BIN / "asr-export"), "--model", str(model_file), "--out", str(out), *refs], check=True,
                       capture_output=True, timeout=120)
        for name in ("model.safetensors", "config.json", "vocab.json", "cmvn.json"):
            self.assertTrue((out / name).stat().st_size > 0, name)
        model = ExportedModel.load(out)
        features_checked = 0
        self.assertEqual(json.loads((out / "vocab.json").read_text())["units"][0], "")
        for i, wav in enumerate(self.test_wavs):
            feats = torch.from_numpy(numpy.load(out / "reference" / f"{i}.features.npy"))
            expected = torch.from_numpy(numpy.load(out / "reference" / f"{i}.log_probs.npy"))
            with torch.no_grad():
                log_probs, lengths = model(feats[None], torch.tensor([feats.shape[0]]))
            self.assertEqual(tuple(log_probs.shape[1:]), tuple(expected.shape), wav)
            self.assertEqual(int(lengths[0]), expected.shape[0])
            diff = (log_probs[0] - expected).abs().max().item()
            self.assertLessEqual(diff, 1e-4, f"{wav}: max |log p - C++| = {diff}")
            self.assertEqual(model.greedy_text(log_probs[0]), self.client.transcribe(wav).transcript, wav)
            # Its own Kaldi features (torchaudio, float32) match the C++ ones where no resampling is involved:
            # within 1e-2 in log-mel (the quietest bins of silence differ by up to 4e-3; float32 sums of
            # power spectra), and the log-probabilities they give within 1e-3 (measured: 8e-6).
            with wave.open(str(wav)) if wav.suffix == ".wav" else contextlib.nullcontext() as w:
                if w and w.getframerate() == 16000 and w.getsampwidth() == 2 and w.getnchannels() == 1:
                    pcm = numpy.frombuffer(w.readframes(w.getnframes()), dtype=numpy.int16)
                    mine = model.features(torch.from_numpy(pcm.astype(numpy.float32) / 32768), 16000)
                    self.assertLessEqual((mine - feats).abs().max().item(), 1e-2, wav)
                    with torch.no_grad():
                        own, _ = model(mine[None], torch.tensor([mine.shape[0]]))
                    self.assertLessEqual((own[0] - expected).abs().max().item(), 1e-3, wav)
                    features_checked += 1
        self.assertGreaterEqual(features_checked, 1)
        # The path on to ONNX (docs/api.md): tracing runs (no ONNX runtime here to run the result).
        feats = torch.from_numpy(numpy.load(out / "reference" / "0.features.npy"))[None]
        torch.onnx.export(model, (feats, torch.tensor([feats.shape[1]])), str(out / "model.onnx"),
                          input_names=["features", "lengths"], output_names=["log_probs", "out_lengths"])
        self.assertGreater((out / "model.onnx").stat().st_size, 1000)

    def test_reflection_based_call(self):
        self.assertIn("asr.v1.RecognitionService", reflection.services(self.target))
        info = json.loads(reflection.call(self.target, "asr.v1.InfoService/GetServerInfo", token=TOKEN))
        self.assertEqual(info["version"], self.client.info().version)
        models = json.loads(reflection.call(self.target, "asr.v1.RecognitionService/ListModels", '{"name": "digits"}',
                                            token=TOKEN))
        self.assertEqual(models["models"][0]["name"], "digits")
        with self.assertRaises(Error) as e:
            reflection.call(self.target, "asr.v1.InfoService/GetServerInfo")  # no token
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        with self.assertRaises(Error) as e:
            reflection.call(self.target, "asr.v1.TrainingService/WatchJob", token=TOKEN)
        self.assertIn("streams", e.exception.details)
        r = subprocess.run(["/usr/bin/python3", "-m", "asr_client", "--token-file", str(self.dir / "token"), "call",
                            self.target, "asr.v1.InfoService/GetServerInfo"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["version"], info["version"])

    def test_bad_input_is_an_error_naming_what_was_wrong(self):
        def code_and_details(call):
            with self.assertRaises(Error) as e:
                call()
            return e.exception.code, e.exception.details

        with Client(self.target) as anonymous:
            self.assertEqual(code_and_details(anonymous.jobs)[0], grpc.StatusCode.UNAUTHENTICATED)
        with Client(self.target, token=TOKEN + "x") as wrong:
            self.assertEqual(code_and_details(lambda: wrong.transcribe(self.test_wavs[0]))[0],
                             grpc.StatusCode.UNAUTHENTICATED)
        code, details = code_and_details(lambda: self.client.transcribe(b"not audio at all", model="digits"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("audio", details)
        code, details = code_and_details(lambda: self.client.transcribe(self.test_wavs[0], model="nope"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)  # recognition.proto: an unknown model
        self.assertIn("nope", details)
        code, details = code_and_details(lambda: self.client.transcribe(self.test_wavs[0], phrases={"seven": -1}))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("config.phrases[0].boost", details)
        code, details = code_and_details(lambda: list(self.client.stream(iter([b"\0\0"] * 4), sample_rate=0)))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("sample_rate", details)
        code, details = code_and_details(lambda: list(self.client.stream(iter([]), encoding="MP3")))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("encoding", details)
        code, details = code_and_details(
            lambda: self.client.train({"model": {"hiden_size": 8}}, dataset=self.dataset.id, watch=False))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("hiden_size", details)
        code, details = code_and_details(
            lambda: self.client.train({"optimizer": {"lr": -1}}, dataset=self.dataset.id, watch=False))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("lr", details)
        code, details = code_and_details(lambda: self.client.jobs(state="bogus"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("RUNNING", details)
        self.assertEqual(code_and_details(lambda: self.client.job("job-000000000000"))[0], grpc.StatusCode.NOT_FOUND)
        self.assertEqual(code_and_details(lambda: self.client.upload_dataset(self.dir / "missing"))[0],
                         grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main()
