#include "features/resample.h"

#include <soxr.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace asr {
namespace {

absl::Status CheckRates(double in_rate, double out_rate) {
  if (!(in_rate >= 1.0 && in_rate <= 1e7 && out_rate >= 1.0 && out_rate <= 1e7)) {
    return absl::InvalidArgumentError(
        absl::StrCat("resample: rates ", in_rate, " -> ", out_rate, " Hz out of range"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ResampleStream>> ResampleStream::Create(double in_rate, double out_rate) {
  if (absl::Status st = CheckRates(in_rate, out_rate); !st.ok()) return st;
  std::unique_ptr<ResampleStream> s(new ResampleStream());
  s->ratio_ = out_rate / in_rate;
  if (in_rate == out_rate) return s;
  soxr_error_t err = nullptr;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);  // one thread: we parallelize above
  s->soxr_ = soxr_create(in_rate, out_rate, 1, &err, &io, &quality, &runtime);
  if (err != nullptr || s->soxr_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("soxr_create ", in_rate, " -> ", out_rate, ": ", err ? err : "?"));
  }
  return s;
}

ResampleStream::~ResampleStream() {
  if (soxr_ != nullptr) soxr_delete(soxr_);
}

absl::Status ResampleStream::Drain(const float* in, size_t n, std::vector<float>* out) {
  // in == nullptr asks soxr to flush. Loop until all input is consumed and
  // no more output comes.
  size_t consumed = 0;
  while (true) {
    const size_t room = static_cast<size_t>(std::ceil((n - consumed) * ratio_)) + 1024;
    const size_t old = out->size();
    out->resize(old + room);
    size_t idone = 0, odone = 0;
    const soxr_error_t err = soxr_process(soxr_, in ? in + consumed : nullptr, in ? n - consumed : 0, &idone,
                                          out->data() + old, room, &odone);
    out->resize(old + odone);
    if (err != nullptr) return absl::InternalError(absl::StrCat("soxr_process: ", err));
    consumed += idone;
    if (consumed >= n && odone < room) return absl::OkStatus();
  }
}

absl::Status ResampleStream::Process(const float* in, size_t n, std::vector<float>* out) {
  if (flushed_) return absl::FailedPreconditionError("resample: Process after Flush");
  if (soxr_ == nullptr) {
    out->insert(out->end(), in, in + n);
    return absl::OkStatus();
  }
  if (n == 0) return absl::OkStatus();
  return Drain(in, n, out);
}

absl::Status ResampleStream::Flush(std::vector<float>* out) {
  if (flushed_) return absl::OkStatus();
  flushed_ = true;
  if (soxr_ == nullptr) return absl::OkStatus();
  return Drain(nullptr, 0, out);
}

absl::StatusOr<std::vector<float>> Resample(const std::vector<float>& samples, double in_rate,
                                            double out_rate) {
  auto stream = ResampleStream::Create(in_rate, out_rate);
  if (!stream.ok()) return stream.status();
  std::vector<float> out;
  out.reserve(static_cast<size_t>(std::ceil(samples.size() * out_rate / in_rate)) + 16);
  if (absl::Status st = (*stream)->Process(samples.data(), samples.size(), &out); !st.ok()) return st;
  if (absl::Status st = (*stream)->Flush(&out); !st.ok()) return st;
  return out;
}

absl::StatusOr<std::vector<float>> SpeedPerturb(const std::vector<float>& samples, int sample_rate,
                                                double factor) {
  if (!(factor >= 0.5 && factor <= 2.0)) {
    return absl::InvalidArgumentError(absl::StrCat("speed factor ", factor, " not in [0.5, 2]"));
  }
  if (factor == 1.0) return samples;
  return Resample(samples, sample_rate * factor, sample_rate);
}

}  // namespace asr
