#include "pkg/queue/dev_broker.h"

#include "absl/strings/str_cat.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "pkg/errors/errors.h"

namespace pixq::queue {

struct DevBroker::Impl {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  int brokers = 0;
};

absl::StatusOr<std::unique_ptr<DevBroker>> DevBroker::Start(int brokers) {
  auto impl = std::make_unique<Impl>();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock cluster lives inside a client handle; this one only hosts it.
  if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  impl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (impl->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return errors::Make(errors::Reason::kKafkaClient, absl::StrCat("mock cluster host: ", err));
  }
  impl->brokers = brokers;
  impl->cluster = rd_kafka_mock_cluster_new(impl->rk, brokers);
  if (impl->cluster == nullptr) {
    rd_kafka_destroy(impl->rk);
    return errors::Make(errors::Reason::kKafkaClient, "could not start librdkafka's mock cluster");
  }
  return std::unique_ptr<DevBroker>(new DevBroker(std::move(impl)));
}

DevBroker::DevBroker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DevBroker::~DevBroker() {
  rd_kafka_mock_cluster_destroy(impl_->cluster);
  rd_kafka_destroy(impl_->rk);
}

std::string DevBroker::BootstrapServers() const {
  return rd_kafka_mock_cluster_bootstraps(impl_->cluster);
}

absl::Status DevBroker::CreateTopic(const std::string& name, int partitions) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(impl_->cluster, name.c_str(), partitions, /*replication=*/1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return errors::Make(errors::Reason::kInvalidTopic,
                        absl::StrCat("create topic ", name, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::Status DevBroker::SetAllBrokersUp(bool up) {
  // The mock cluster numbers its brokers from 1.
  for (int32_t id = 1; id <= impl_->brokers; ++id) {
    const rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(impl_->cluster, id)
                                       : rd_kafka_mock_broker_set_down(impl_->cluster, id);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return errors::Make(
          errors::Reason::kKafkaClient,
          absl::StrCat("broker ", id, up ? " up: " : " down: ", rd_kafka_err2str(err)));
    }
  }
  return absl::OkStatus();
}

}  // namespace pixq::queue
