"""A typed Python client of asr-server: recognition (unary and streaming),
datasets, training jobs and published models.

Every call raises `asr_client.Error` (with the gRPC status code and the
server's message) when the server refuses it; nothing returns None on
failure. A Client is safe to use from several threads (gRPC channels are).
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sys
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import json_format

from asr_client._pb.asr.v1 import info_pb2, info_pb2_grpc
from asr_client._pb.asr.v1 import recognition_pb2 as rpb
from asr_client._pb.asr.v1 import recognition_pb2_grpc
from asr_client._pb.asr.v1 import training_pb2 as tpb
from asr_client._pb.asr.v1 import training_pb2_grpc
from asr_client._pb.grpc.health.v1 import health_pb2, health_pb2_grpc

Audio = Union[str, os.PathLike, bytes]
# Phrases to boost: texts (the server's default boost), (text, boost) pairs, or {text: boost}.
Phrases = Union[Iterable[Union[str, Tuple[str, float]]], Mapping[str, float]]
CHUNK_BYTES = 1 << 20  # upload and download chunks

# The protos, for callers that want them (Job, ModelVersion, TrainingConfig, ...).
training_pb2 = tpb
recognition_pb2 = rpb


class Error(Exception):
    """A call the server (or the network) refused: `code` is the
    grpc.StatusCode, `details` the server's message, which names the field
    that was wrong."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def _raise(e: grpc.RpcError) -> None:
    raise Error(e.code(), e.details() or "") from None


@dataclass
class Word:
    word: str
    start: float  # seconds from the start of the audio
    end: float
    confidence: float


@dataclass
class Alternative:
    transcript: str
    confidence: float
    words: List[Word] = field(default_factory=list)


@dataclass
class Result:
    """One recognition result: a stream's interim or final result, or a
    whole file's (always final)."""

    alternatives: List[Alternative]
    is_final: bool = True
    stability: float = 0.0  # interim only: share of words unchanged since the previous interim
    end_time: float = 0.0  # seconds of audio this result covers up to
    utterance_index: int = 0
    model: str = ""  # "name:version" that produced it
    start_time: float = 0.0  # transcribe's utterances: the first speech, seconds
    event: str = ""  # stream with speech_events: "SPEECH_BEGIN" or "SPEECH_END" at end_time, no alternatives
    # transcribe: the file's utterances (cut at silences, as a stream's
    # endpointing would), each a Result with start_time and end_time.
    utterances: List["Result"] = field(default_factory=list)

    @property
    def transcript(self) -> str:
        return self.alternatives[0].transcript if self.alternatives else ""


def _seconds(d) -> float:
    return d.seconds + d.nanos * 1e-9


def _alternatives(alts) -> List[Alternative]:
    return [Alternative(a.transcript, a.confidence,
                        [Word(w.word, _seconds(w.start_time), _seconds(w.end_time), w.confidence) for w in a.words])
            for a in alts]


def make_channel(target: str, tls_ca: Optional[str] = None) -> grpc.Channel:
    """A channel to `target`: TLS trusting the CA in PEM file tls_ca, or plaintext without one."""
    if not tls_ca:
        return grpc.insecure_channel(target)
    with open(tls_ca, "rb") as f:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=f.read()))


def _read_audio(audio: Audio) -> bytes:
    if isinstance(audio, (bytes, bytearray)):
        return bytes(audio)
    with open(audio, "rb") as f:
        return f.read()


ENCODINGS = {"LINEAR16": rpb.LINEAR16, "FLOAT32": rpb.FLOAT32, "FLAC": rpb.FLAC, "OGG_OPUS": rpb.OGG_OPUS,
             "MULAW": rpb.MULAW, "ALAW": rpb.ALAW}


class Client:
    """A connection to asr-server at `target` ("host:port", "dns:///host:port").

    token: the bearer token of a server started with --auth-token-file.
    tls_ca: a PEM file of the CA that signed the server's certificate (TLS);
    without it the channel is plaintext.
    timeout: seconds for unary calls (streams and watches have none).
    """

    def __init__(self, target: str, token: Optional[str] = None, tls_ca: Optional[str] = None,
                 timeout: float = 600.0):
        self._channel = make_channel(target, tls_ca)
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        self._timeout = timeout
        self._recognition = recognition_pb2_grpc.RecognitionServiceStub(self._channel)
        self._training = training_pb2_grpc.TrainingServiceStub(self._channel)
        self._info = info_pb2_grpc.InfoServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _unary(self, method, request):
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.RpcError as e:
            _raise(e)

    # ---- server ---------------------------------------------------------------------

    def info(self) -> info_pb2.ServerInfo:
        return self._unary(self._info.GetServerInfo, info_pb2.GetServerInfoRequest())

    def health(self, service: str = "") -> str:
        """"SERVING" or "NOT_SERVING" (grpc.health.v1; "" = the server as a whole)."""
        r = self._unary(self._health.Check, health_pb2.HealthCheckRequest(service=service))
        return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    # ---- recognition ------------------------------------------------------------------

    def _config(self, model: Optional[str], version: int, encoding: Optional[str], sample_rate: int,
                channels: int, max_alternatives: int, word_times: bool, interim_results: bool,
                endpoint_silence: Optional[float], request_id: str,
                phrases: Optional[Phrases]) -> rpb.RecognitionConfig:
        c = rpb.RecognitionConfig(model=model or self._default_model(), model_version=version,
                                  sample_rate_hertz=sample_rate, audio_channel_count=channels,
                                  max_alternatives=max_alternatives, enable_word_time_offsets=word_times,
                                  interim_results=interim_results, request_id=request_id)
        if encoding:
            if encoding not in ENCODINGS:
                raise Error(grpc.StatusCode.INVALID_ARGUMENT,
                            f"encoding: '{encoding}' is not one of {', '.join(ENCODINGS)}")
            c.encoding = ENCODINGS[encoding]
        if endpoint_silence is not None:
            c.endpoint.silence_seconds = endpoint_silence
        items = phrases.items() if isinstance(phrases, Mapping) else phrases or []
        for p in items:
            text, boost = (p, 0.0) if isinstance(p, str) else p
            c.phrases.add(text=text, boost=boost)
        return c

    def _default_model(self) -> str:
        """The only published model's name; otherwise an error naming them."""
        names = sorted({m.name for m in self.models()})
        if len(names) == 1:
            return names[0]
        raise Error(grpc.StatusCode.INVALID_ARGUMENT,
                    "model: required; published: " + (", ".join(names) if names else "none yet"))

    def transcribe(self, audio: Audio, model: Optional[str] = None, version: int = 0,
                   max_alternatives: int = 0, word_times: bool = False,
                   encoding: Optional[str] = None, sample_rate: int = 0, channels: int = 0,
                   endpoint_silence: Optional[float] = None, request_id: str = "",
                   phrases: Optional[Phrases] = None) -> Result:
        """Recognizes a whole file (a path or its bytes; any container the
        server reads, or raw PCM with encoding and sample_rate) of at most
        600 s: stream longer ones. model: a published name (default: the
        only one published); version 0 = latest. The result is the whole
        file's; its `utterances` cut it at silences of endpoint_silence
        seconds (default 0.8; negative: one utterance). phrases: texts to
        favour in decoding, as a list (default boost) or {text: boost}
        (log-probability bonus per output unit, 0-10)."""
        config = self._config(model, version, encoding, sample_rate, channels, max_alternatives, word_times,
                              False, endpoint_silence, request_id, phrases)
        r = self._unary(self._recognition.Recognize, rpb.RecognizeRequest(config=config, audio=_read_audio(audio)))
        utterances = [Result(_alternatives(u.alternatives), end_time=_seconds(u.end_time),
                             utterance_index=u.utterance_index, model=r.model, start_time=_seconds(u.start_time))
                      for u in r.results]
        return Result(_alternatives(r.alternatives), end_time=r.audio_seconds, model=r.model, utterances=utterances)

    def stream(self, chunks: Iterable[bytes], sample_rate: int = 16000, encoding: str = "LINEAR16",
               model: Optional[str] = None, version: int = 0, interim_results: bool = True,
               word_times: bool = False, max_alternatives: int = 0, channels: int = 0,
               endpoint_silence: Optional[float] = None, speech_events: bool = False,
               request_id: str = "", phrases: Optional[Phrases] = None) -> Iterator[Result]:
        """Streams audio chunks (LINEAR16 at sample_rate by default; see
        audio_chunks) and yields results as they come: interim ones
        (is_final False) while interim_results, and a final one per
        utterance; with speech_events, also event results where speech
        begins and ends; phrases as for transcribe. Ends when the server
        has answered all the audio."""
        config = self._config(model, version, encoding, sample_rate, channels, max_alternatives, word_times,
                              interim_results, endpoint_silence, request_id, phrases)
        config.speech_events = speech_events

        def requests():
            yield rpb.StreamingRecognizeRequest(config=config)
            for c in chunks:
                yield rpb.StreamingRecognizeRequest(audio=c)

        try:
            for resp in self._recognition.StreamingRecognize(requests(), metadata=self._metadata):
                if resp.speech_event:
                    yield Result([], False, end_time=_seconds(resp.speech_event_time), model=resp.model,
                                 event=rpb.SpeechEventType.Name(resp.speech_event))
                for r in resp.results:
                    yield Result(_alternatives(r.alternatives), r.is_final, r.stability, _seconds(r.result_end_time),
                                 r.utterance_index, resp.model)
        except grpc.RpcError as e:
            _raise(e)

    def models(self, name: str = "") -> List[tpb.ModelVersion]:
        """Published model versions (of `name`, or all), by name then version."""
        return list(self._unary(self._recognition.ListModels, tpb.ListModelsRequest(name=name)).models)

    def download_model(self, name: str, path: Union[str, os.PathLike], version: int = 0) -> tpb.ModelVersion:
        """Writes a published model file to `path` (verified against its
        SHA-256) and returns its version record."""
        info = None
        digest = hashlib.sha256()
        tmp = pathlib.Path(f"{path}.part")
        try:
            with open(tmp, "wb") as out:
                for part in self._training.GetModel(tpb.GetModelRequest(name=name, version=version),
                                                    metadata=self._metadata):
                    if part.HasField("model"):
                        info = part.model
                    else:
                        digest.update(part.chunk)
                        out.write(part.chunk)
        except grpc.RpcError as e:
            tmp.unlink(missing_ok=True)
            _raise(e)
        if info is None or (info.sha256 and digest.hexdigest() != info.sha256):
            tmp.unlink(missing_ok=True)
            raise Error(grpc.StatusCode.DATA_LOSS, f"model {name}: the download does not match its SHA-256")
        os.replace(tmp, path)
        return info

    # ---- datasets ------------------------------------------------------------------

    def upload_dataset(self, directory: Union[str, os.PathLike], name: str = "",
                       progress: Union[bool, IO] = False) -> tpb.Dataset:
        """Uploads a directory of *.jsonl manifests (NeMo's format) and the
        audio they reference; returns the dataset (its id for train()).
        progress: True draws a bar on stderr, or a file to draw it on."""
        root = pathlib.Path(directory)
        files = sorted(p for p in root.rglob("*") if p.is_file())
        if not files:
            raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"directory: no files under '{directory}'")
        total = sum(p.stat().st_size for p in files)
        bar = _bar(progress, total=total, unit="B", unit_scale=True, desc="upload")

        def requests():
            yield tpb.UploadDatasetRequest(begin=tpb.UploadDatasetRequest.Begin(name=name or root.name))
            for p in files:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(CHUNK_BYTES), b""):
                        h.update(block)
                yield tpb.UploadDatasetRequest(file=tpb.UploadDatasetRequest.FileHeader(
                    path=p.relative_to(root).as_posix(), size=p.stat().st_size, sha256=h.hexdigest()))
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(CHUNK_BYTES), b""):
                        yield tpb.UploadDatasetRequest(chunk=block)
                        if bar is not None:
                            bar.update(len(block))
            yield tpb.UploadDatasetRequest(end=tpb.UploadDatasetRequest.End())

        try:
            return self._training.UploadDataset(requests(), metadata=self._metadata)
        except grpc.RpcError as e:
            _raise(e)
        finally:
            if bar is not None:
                bar.close()

    def datasets(self) -> List[tpb.Dataset]:
        return list(self._unary(self._training.ListDatasets, tpb.ListDatasetsRequest()).datasets)

    # ---- training ------------------------------------------------------------------

    def train(self, config: Union[dict, str, os.PathLike, tpb.TrainingConfig], dataset: str = "",
              manifest: str = "", dev_manifest: str = "", processes: int = 0, threads_per_process: int = 0,
              watch: bool = True, progress: Union[bool, IO] = True) -> tpb.Job:
        """Creates a training job. config: asr-train's JSON config (a dict or
        a file) or a TrainingConfig. The data: an uploaded dataset's id, or
        manifest paths under the server's data root. With watch, follows the
        job to its end (a progress bar of its steps, loss and ETA unless
        progress is False) and returns it as it ended."""
        if not isinstance(config, tpb.TrainingConfig):
            if not isinstance(config, dict):
                with open(config) as f:
                    config = json.load(f)
            config = {k: v for k, v in config.items() if k not in ("train_manifest", "dev_manifest")}
            try:
                config = json_format.ParseDict(config, tpb.TrainingConfig())
            except json_format.ParseError as e:
                raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"config: {e}") from None
        spec = tpb.DatasetSpec(dataset_id=dataset, train_manifest=manifest, dev_manifest=dev_manifest)
        job = self._unary(self._training.CreateTrainingJob, tpb.CreateTrainingJobRequest(
            config=config, dataset=spec,
            resources=tpb.JobResources(processes=processes, threads_per_process=threads_per_process)))
        if not watch:
            return job
        bar = _bar(progress, total=None, unit="step", desc=job.id)
        try:
            for e in self.watch(job.id):
                if bar is not None and e.HasField("progress"):
                    g = e.progress
                    bar.total = g.total_steps or None
                    bar.n = g.step
                    bar.set_postfix(loss=f"{g.loss:.3f}", lr=f"{g.learning_rate:.2e}",
                                    fps=f"{g.frames_per_second:.0f}", refresh=False)
                    bar.refresh()
                elif bar is not None and e.HasField("validation"):
                    bar.write(f"{job.id}: step {e.validation.step}: dev CER {100 * e.validation.cer:.2f}%, "
                              f"WER {100 * e.validation.wer:.2f}%")
        finally:
            if bar is not None:
                bar.close()
        return self.job(job.id)

    def job(self, job_id: str) -> tpb.Job:
        return self._unary(self._training.GetJob, tpb.GetJobRequest(job_id=job_id))

    def jobs(self, state: Optional[str] = None) -> List[tpb.Job]:
        """Every job (newest first), or those in `state` ("running", "QUEUED", ...)."""
        s = tpb.JOB_STATE_UNSPECIFIED
        if state:
            try:
                s = tpb.JobState.Value(state.upper())
            except ValueError:
                names = [n for n in tpb.JobState.keys() if n != "JOB_STATE_UNSPECIFIED"]
                raise Error(grpc.StatusCode.INVALID_ARGUMENT,
                            f"state: '{state}' is not one of {', '.join(names)}") from None
        out, token = [], ""
        while True:
            r = self._unary(self._training.ListJobs, tpb.ListJobsRequest(state=s, page_size=500, page_token=token))
            out.extend(r.jobs)
            token = r.next_page_token
            if not token:
                return out

    def watch(self, job_id: str, after: int = 0) -> Iterator[tpb.JobEvent]:
        """The job's events after sequence number `after`, as they happen;
        ends once the job has ended."""
        try:
            yield from self._training.WatchJob(tpb.WatchJobRequest(job_id=job_id, after_sequence=after),
                                               metadata=self._metadata)
        except grpc.RpcError as e:
            _raise(e)

    def cancel(self, job_id: str) -> tpb.Job:
        return self._unary(self._training.CancelJob, tpb.CancelJobRequest(job_id=job_id))

    def delete(self, job_id: str) -> None:
        self._unary(self._training.DeleteJob, tpb.DeleteJobRequest(job_id=job_id))

    def checkpoints(self, job_id: str) -> List[tpb.Checkpoint]:
        return list(self._unary(self._training.ListCheckpoints, tpb.ListCheckpointsRequest(job_id=job_id)).checkpoints)

    def publish(self, job_id: str, name: str, step: int = 0) -> tpb.ModelVersion:
        """Publishes the job's exported model (step 0) or that checkpoint as
        the next version of model `name`."""
        return self._unary(self._training.PublishModel, tpb.PublishModelRequest(job_id=job_id, name=name, step=step))


def _bar(progress: Union[bool, IO], **kw):
    """A tqdm bar on stderr (progress True) or on the given file; None for False."""
    if progress is False or progress is None:
        return None
    from tqdm import tqdm

    return tqdm(file=sys.stderr if progress is True else progress, dynamic_ncols=progress is True, **kw)


def audio_chunks(path: Union[str, os.PathLike], chunk_ms: int = 100, realtime: bool = False) -> Iterator[bytes]:
    """A 16-bit PCM WAV file's samples as LINEAR16 chunks of chunk_ms (for
    Client.stream, whose sample_rate must be the file's: see wav_rate);
    with realtime, one chunk every chunk_ms, as a microphone would."""
    import time
    import wave

    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise Error(grpc.StatusCode.INVALID_ARGUMENT, f"audio: '{path}' is not 16-bit PCM")
        frames = max(1, w.getframerate() * chunk_ms // 1000)
        start = time.monotonic()
        sent = 0
        while True:
            data = w.readframes(frames)
            if not data:
                return
            if realtime:
                time.sleep(max(0.0, start + sent * chunk_ms / 1000 - time.monotonic()))
            sent += 1
            yield data


def wav_rate(path: Union[str, os.PathLike]) -> int:
    """The sample rate of a WAV file, in Hz."""
    import wave

    with wave.open(str(path), "rb") as w:
        return w.getframerate()
