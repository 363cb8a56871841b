// The wall clock as a protobuf Timestamp, to the microsecond
// (protobuf's TimeUtil::GetCurrentTime() gives whole seconds).
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <chrono>

namespace asr::server {

inline google::protobuf::Timestamp NowTimestamp() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count());
}

}  // namespace asr::server
