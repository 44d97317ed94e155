#include "pkg/config/tracing.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/config/config.h"
#include "pkg/errors/errors.h"

namespace pixq::config {
namespace {

using observability::TracingOptions;

std::map<std::string, std::string> Env(std::map<std::string, std::string> vars) { return vars; }

TEST(TracingOptionsTest, DefaultsExportNothingAndSampleParentBased) {
  absl::StatusOr<TracingOptions> o = TracingFromEnvironment({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->enabled);
  EXPECT_EQ(o->service_name, "");  // the binary's own name (runtime::StartTracer)
  EXPECT_TRUE(o->traces_url.empty());
  EXPECT_TRUE(o->sampler.parent_based);
  EXPECT_EQ(o->sampler.root, observability::Sampler::Root::kAlwaysOn);
}

TEST(TracingOptionsTest, HonoursTheStandardVariables) {
  absl::StatusOr<TracingOptions> o = TracingFromEnvironment(Env(
      {{"OTEL_SERVICE_NAME", "thumbs"},
       {"OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, deployment.environment=prod,team=a%2Cb"},
       {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
       {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
       {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
       {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20x"},
       {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
       {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
       {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"}}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->service_name, "thumbs");  // OTEL_SERVICE_NAME wins over the resource's
  ASSERT_EQ(o->resource_attributes.size(), 2u);
  EXPECT_EQ(o->resource_attributes[0],
            std::make_pair(std::string("deployment.environment"), std::string("prod")));
  EXPECT_EQ(o->resource_attributes[1].second, "a,b");
  EXPECT_EQ(o->sampler.root, observability::Sampler::Root::kRatio);
  EXPECT_TRUE(o->sampler.parent_based);
  EXPECT_DOUBLE_EQ(o->sampler.ratio, 0.25);
  EXPECT_EQ(o->traces_url, "http://collector:4318/v1/traces");
  ASSERT_EQ(o->headers.size(), 1u);
  EXPECT_EQ(o->headers[0].second, "Bearer x");
  EXPECT_EQ(o->export_timeout, absl::Milliseconds(2500));
  EXPECT_EQ(o->max_queue, 100u);
  EXPECT_EQ(o->max_batch, 100u);  // never more than the queue holds

  o = TracingFromEnvironment(Env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                  {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b/traces"},
                                  {"OTEL_SDK_DISABLED", "TRUE"}}));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->traces_url, "http://b/traces");  // the signal-specific URL is used as it is
  EXPECT_FALSE(o->enabled);
}

TEST(TracingOptionsTest, ABadValueNamesItsVariable) {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"OTEL_TRACES_SAMPLER", "sometimes"},
           {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"},
           {"OTEL_RESOURCE_ATTRIBUTES", "novalue"},
           {"OTEL_EXPORTER_OTLP_TIMEOUT", "-1"},
           {"OTEL_BSP_MAX_QUEUE_SIZE", "lots"}}) {
    absl::StatusOr<TracingOptions> o = TracingFromEnvironment(Env({{name, value}}));
    ASSERT_FALSE(o.ok()) << name;
    EXPECT_NE(o.status().message().find(name), absl::string_view::npos) << o.status();
  }
  absl::StatusOr<TracingOptions> o = TracingFromEnvironment(
      Env({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}}));
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("OTEL_TRACES_SAMPLER_ARG"), absl::string_view::npos);
}

TEST(TracingOptionsTest, LoadReadsThemAndNamesABadOne) {
  absl::StatusOr<Config> c = LoadFromString("", {{"OTEL_SERVICE_NAME", "thumbs"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tracing.service_name, "thumbs");
  c = LoadFromString("", {{"OTEL_BSP_MAX_QUEUE_SIZE", "lots"}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(errors::ReasonOf(c.status()), "InvalidConfig");
  EXPECT_EQ(c.status().message(), "OTEL_BSP_MAX_QUEUE_SIZE: must be a positive integer");
}

}  // namespace
}  // namespace pixq::config
