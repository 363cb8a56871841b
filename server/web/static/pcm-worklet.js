// AudioWorklet: the microphone's float samples at the context's rate ->
// 16 kHz mono LINEAR16, posted to the page in 100 ms ArrayBuffers.
// Resampling is windowed-sinc interpolation (Hann window, 8 zero crossings
// each side) with its cutoff at 95% of 8 kHz, so that nothing above the
// new Nyquist folds back into speech. A 'flush' message posts what is left.
const OUT_RATE = 16000;
const CHUNK = 1600;  // samples per message: 100 ms

class Pcm16k extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / OUT_RATE;              // input samples per output sample
    this.fc = Math.min(0.5, 0.5 / this.step) * 0.95;  // cutoff, cycles per input sample
    this.half = this.step === 1 ? 0 : Math.ceil(8 / (2 * this.fc));  // kernel half-width, input samples
    this.buf = new Float32Array(0);
    this.pos = 0;  // position of the next output sample in buf, input samples
    this.out = new Int16Array(CHUNK);
    this.n = 0;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') {
        this.port.postMessage(this.out.slice(0, this.n).buffer);
        this.n = 0;
        this.port.postMessage('flushed');
      }
    };
  }

  sampleAt(t) {
    if (this.half === 0) return this.buf[t];
    const lo = Math.ceil(t - this.half), hi = Math.floor(t + this.half);
    let sum = 0;
    for (let i = lo; i <= hi; i++) {
      const d = t - i, u = 2 * this.fc * d;
      const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
      const w = 0.5 * (1 + Math.cos(Math.PI * d / this.half));
      sum += this.buf[i] * 2 * this.fc * sinc * w;
    }
    return sum;
  }

  emit(v) {
    this.out[this.n++] = Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
    if (this.n === CHUNK) {
      this.port.postMessage(this.out.buffer, [this.out.buffer]);
      this.out = new Int16Array(CHUNK);
      this.n = 0;
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    const joined = new Float32Array(this.buf.length + frames);
    joined.set(this.buf);
    for (let i = 0; i < frames; i++) {
      let s = 0;
      for (const c of channels) s += c[i];
      joined[this.buf.length + i] = s / channels.length;
    }
    this.buf = joined;
    // The first output sample waits for a full left half of the kernel.
    if (this.pos < this.half) this.pos = this.half;
    while (this.pos + this.half < this.buf.length) {
      this.emit(this.sampleAt(this.pos));
      this.pos += this.step;
    }
    const drop = Math.max(0, Math.floor(this.pos - this.half) - 1);
    this.buf = this.buf.slice(drop);
    this.pos -= drop;
    return true;
  }
}

registerProcessor('pcm16k', Pcm16k);
