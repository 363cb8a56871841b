// Short forms for registering Prometheus families on a registry. The
// registry owns every family and series; the references stay valid for its
// lifetime. Thread-safe as prometheus-cpp is.
#pragma once

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace asr::server {

inline prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& r, const char* name,
                                                              const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
inline prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& r, const char* name,
                                                          const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
// A family with one unlabelled series, and that series.
inline prometheus::Counter& Counter(prometheus::Registry& r, const char* name, const char* help) {
  return CounterFamily(r, name, help).Add({});
}
inline prometheus::Gauge& Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return GaugeFamily(r, name, help).Add({});
}
inline prometheus::Histogram& Histogram(prometheus::Registry& r, const char* name, const char* help,
                                        prometheus::Histogram::BucketBoundaries buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, std::move(buckets));
}

}  // namespace asr::server
