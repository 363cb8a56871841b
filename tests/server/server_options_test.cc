#include "server/server_options.h"

#include <gtest/gtest.h>

#include <functional>

namespace asr::server {
namespace {

TEST(ServerOptionsTest, DefaultsAreValidAndLocalOnly) {
  ServerOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.listen, "127.0.0.1:50051");
  EXPECT_EQ(o.metrics_listen, "127.0.0.1:9464");
}

TEST(ServerOptionsTest, ValidateNamesTheBadField) {
  const std::vector<std::pair<std::string, std::function<void(ServerOptions&)>>> cases = {
      {"listen", [](ServerOptions& o) { o.listen = "no-port"; }},
      {"listen", [](ServerOptions& o) { o.listen = "127.0.0.1:70000"; }},
      {"metrics_listen", [](ServerOptions& o) { o.metrics_listen = "x:y"; }},
      {"state_dir", [](ServerOptions& o) { o.state_dir = ""; }},
      {"data_root", [](ServerOptions& o) { o.data_root = ""; }},
      {"threads", [](ServerOptions& o) { o.threads = -1; }},
      {"log_level", [](ServerOptions& o) { o.log_level = "loud"; }},
      {"shutdown_grace_seconds", [](ServerOptions& o) { o.shutdown_grace_seconds = -1; }},
      {"max_concurrent_jobs", [](ServerOptions& o) { o.training.max_concurrent_jobs = 0; }},
      {"tls_cert", [](ServerOptions& o) { o.tls_key = "/k"; }},
      {"database", [](ServerOptions& o) { o.database = "mysql://db/asr"; }},
      {"database", [](ServerOptions& o) { o.database = "postgresql://asr:secret@db/asr"; }},
      {"database", [](ServerOptions& o) { o.database = "postgresql://db/asr?password=secret"; }},
      {"max_connection_age_seconds", [](ServerOptions& o) { o.max_connection_age_seconds = -1; }},
      {"stream_backlog_seconds", [](ServerOptions& o) { o.recognition.stream_backlog_seconds = 0; }},
      {"max_message_mb", [](ServerOptions& o) { o.max_message_mb = 0; }},
      {"max_upload_mb", [](ServerOptions& o) { o.training.max_upload_mb = 0; }},
      {"max_upload_files", [](ServerOptions& o) { o.training.max_upload_files = 0; }},
      {"max_streams", [](ServerOptions& o) { o.recognition.max_streams = 0; }},
      {"max_stream_seconds", [](ServerOptions& o) { o.recognition.max_stream_seconds = 0; }},
      {"stream_idle_timeout_seconds",
       [](ServerOptions& o) { o.recognition.stream_idle_timeout_seconds = -1; }},
      {"max_batch", [](ServerOptions& o) { o.recognition.max_batch = 0; }},
      {"max_batch_wait_ms", [](ServerOptions& o) { o.recognition.max_batch_wait_ms = -1; }},
      {"recognize_workers", [](ServerOptions& o) { o.recognition.recognize_workers = 0; }},
      {"import_models", [](ServerOptions& o) { o.recognition.import_models = {"noequals"}; }},
  };
  for (const auto& [field, mutate] : cases) {
    ServerOptions o;
    mutate(o);
    const absl::Status st = o.Validate();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_EQ(st.message().find(field + ":"), 0u) << st.message();
  }
}

TEST(ServerOptionsTest, EmptyMetricsAddressDisablesMetrics) {
  ServerOptions o;
  o.metrics_listen = "";
  EXPECT_TRUE(o.Validate().ok());
}

TEST(ServerOptionsTest, ToStringPrintsEveryField) {
  // Each mutation changes one field; ToString must reflect every one of them.
  const std::vector<std::function<void(ServerOptions&)>> mutations = {
      [](ServerOptions& o) { o.listen = "0.0.0.0:1"; },
      [](ServerOptions& o) { o.metrics_listen = "0.0.0.0:2"; },
      [](ServerOptions& o) { o.state_dir = "/s"; },
      [](ServerOptions& o) { o.data_root = "/d"; },
      [](ServerOptions& o) { o.threads = 7; },
      [](ServerOptions& o) { o.log_level = "warn"; },
      [](ServerOptions& o) { o.shutdown_grace_seconds = 3.5; },
      [](ServerOptions& o) { o.ready_file = "/r"; },
      [](ServerOptions& o) { o.training.max_concurrent_jobs = 2; },
      [](ServerOptions& o) { o.auth_token_file = "/t"; },
      [](ServerOptions& o) { o.tls_cert = "/c"; },
      [](ServerOptions& o) { o.tls_key = "/k"; },
      [](ServerOptions& o) { o.max_message_mb = 3; },
      [](ServerOptions& o) { o.training.max_upload_mb = 5; },
      [](ServerOptions& o) { o.training.max_upload_files = 6; },
      [](ServerOptions& o) { o.recognition.max_streams = 7; },
      [](ServerOptions& o) { o.recognition.max_stream_seconds = 8; },
      [](ServerOptions& o) { o.recognition.stream_idle_timeout_seconds = 9; },
      [](ServerOptions& o) { o.recognition.max_batch = 10; },
      [](ServerOptions& o) { o.recognition.max_batch_wait_ms = 11; },
      [](ServerOptions& o) { o.recognition.recognize_workers = 12; },
      [](ServerOptions& o) { o.recognition.import_models = {"a=b"}; },
  };
  const std::string base = ServerOptions().ToString();
  for (size_t i = 0; i < mutations.size(); ++i) {
    ServerOptions o;
    mutations[i](o);
    EXPECT_NE(o.ToString(), base) << "mutation " << i << " not visible in ToString()";
  }
  EXPECT_NE(base.find("listen=127.0.0.1:50051"), std::string::npos);
}

TEST(SplitHostPortTest, ParsesIpv4Ipv6AndRejectsJunk) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(SplitHostPort("[::1]:443", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 443);
  EXPECT_FALSE(SplitHostPort(":80", &host, &port));
  EXPECT_FALSE(SplitHostPort("host:-1", &host, &port));
  EXPECT_FALSE(SplitHostPort("host:80x", &host, &port));
}

}  // namespace
}  // namespace asr::server
