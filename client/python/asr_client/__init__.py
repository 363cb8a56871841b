"""asr_client: the Python client of asr-server.

    from asr_client import Client, audio_chunks, wav_rate
    with Client("127.0.0.1:50051") as c:
        print(c.transcribe("utt.wav").transcript)
        for r in c.stream(audio_chunks("utt.wav", realtime=True), sample_rate=wav_rate("utt.wav")):
            print("final" if r.is_final else "interim", r.transcript)

See docs/api.md.
"""
from asr_client.client import (Alternative, Client, Error, Result, Word, audio_chunks, recognition_pb2,
                               training_pb2, wav_rate)

__all__ = ["Alternative", "Client", "Error", "Result", "Word", "audio_chunks", "recognition_pb2", "training_pb2",
           "wav_rate"]
