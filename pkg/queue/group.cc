#include "pkg/queue/group.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

int TimeoutMs(absl::Duration timeout) {
  return static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1));
}

// Every failure to reach Kafka is "BrokerUnavailable" here (a timed-out read is no
// "ProduceTimeout"), but for a topic that is not there.
absl::Status KafkaError(RdKafka::ErrorCode code, const std::string& what) {
  absl::Status status = internal::ToStatus(code, what);
  if (status.ok() || errors::ReasonOf(status) == "UnknownTopic") return status;
  return errors::Make(errors::Reason::kBrokerUnavailable, std::string(status.message()));
}

}  // namespace

struct KafkaGroupReader::Impl {
  GroupReaderOptions options;
  ClientOptions client;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  // DescribeConsumerGroups goes through a client of its own. With librdkafka 2.0.2, a client
  // that asked the local broker (which lacks DescribeGroups) is wedged from then on: it answers
  // no metadata request and no describe again (each times out), and rd_kafka_destroy on it never
  // returns. So the broker is asked until it says it lacks the API (a real Kafka has it since
  // 0.9), then never again, and that client is left to the process's end, not destroyed.
  std::unique_ptr<RdKafka::Producer> admin;
  std::mutex mu;                // one read at a time: the consumer's calls and the fields below
  std::string unsupported_why;  // set once the broker said it cannot describe groups

  absl::StatusOr<std::vector<int32_t>> Partitions();
  absl::StatusOr<std::vector<int64_t>> OffsetsAt(const std::vector<int32_t>& partitions,
                                                 int64_t time);
  // Fills the group's state and members, or says why it cannot.
  void Describe(GroupView& view);
};

absl::StatusOr<std::vector<int32_t>> KafkaGroupReader::Impl::Partitions() {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), options.topic, nullptr, err));
  if (handle == nullptr) return errors::Make(errors::Reason::kKafkaClient, err);
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode code =
      consumer->metadata(false, handle.get(), &raw, TimeoutMs(options.timeout));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR) return KafkaError(code, "metadata of " + options.topic);
  std::vector<int32_t> out;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
      return errors::Make(errors::Reason::kUnknownTopic,
                          absl::StrCat("topic ", options.topic, ": ", RdKafka::err2str(t->err())));
    }
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.push_back(p->id());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<int64_t>> KafkaGroupReader::Impl::OffsetsAt(
    const std::vector<int32_t>& partitions, int64_t time) {
  std::vector<RdKafka::TopicPartition*> query;
  for (int32_t partition : partitions) {
    query.push_back(RdKafka::TopicPartition::create(options.topic, partition, time));
  }
  absl::Status status =
      KafkaError(consumer->offsetsForTimes(query, TimeoutMs(options.timeout)), "list offsets");
  std::vector<int64_t> offsets;
  for (RdKafka::TopicPartition* p : query) {
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = KafkaError(p->err(), "list offsets of " + p->topic());
    }
    offsets.push_back(p->offset());
    delete p;
  }
  if (!status.ok()) return status;
  return offsets;
}

void KafkaGroupReader::Impl::Describe(GroupView& view) {
  if (!unsupported_why.empty()) {
    view.members_unknown_why = unsupported_why;
    return;
  }
  if (admin == nullptr) {
    absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = internal::MakeConf(client, {});
    std::string err;
    if (conf.ok()) admin.reset(RdKafka::Producer::create(conf->get(), err));
    if (admin == nullptr) {
      view.members_unknown_why =
          absl::StrCat("describe consumer groups: no client: ",
                       conf.ok() ? err : std::string(conf.status().message()));
      return;
    }
  }
  rd_kafka_t* rk = admin->c_ptr();
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* options_of_request =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(options_of_request, TimeoutMs(options.timeout), err,
                                            sizeof(err));
  const char* groups[] = {options.group_id.c_str()};
  rd_kafka_DescribeConsumerGroups(rk, groups, 1, options_of_request, queue);
  rd_kafka_AdminOptions_destroy(options_of_request);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, TimeoutMs(options.timeout * 2));
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) {
    view.members_unknown_why = "describe consumer groups: no answer in time";
    return;
  }
  // The local broker lacks DescribeGroups: librdkafka says so for the request, or for the group.
  auto unsupported = [&](rd_kafka_resp_err_t code, const char* text) {
    view.members_unknown_why = absl::StrCat("the broker does not describe consumer groups: ", text);
    if (code == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
        code == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
      unsupported_why = view.members_unknown_why;
    }
  };
  if (rd_kafka_resp_err_t code = rd_kafka_event_error(event); code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    unsupported(code, rd_kafka_event_error_string(event));
    rd_kafka_event_destroy(event);
    return;
  }
  const rd_kafka_DescribeConsumerGroups_result_t* result =
      rd_kafka_event_DescribeConsumerGroups_result(event);
  size_t count = 0;
  const rd_kafka_ConsumerGroupDescription_t** described =
      result != nullptr ? rd_kafka_DescribeConsumerGroups_result_groups(result, &count) : nullptr;
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_ConsumerGroupDescription_t* group = described[i];
    if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(group)) {
      unsupported(rd_kafka_error_code(e), rd_kafka_error_string(e));
      break;
    }
    view.members_known = true;
    view.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(group));
    const size_t members = rd_kafka_ConsumerGroupDescription_member_count(group);
    for (size_t m = 0; m < members; ++m) {
      const rd_kafka_MemberDescription_t* member =
          rd_kafka_ConsumerGroupDescription_member(group, m);
      GroupMember out;
      auto text = [](const char* s) { return s != nullptr ? std::string(s) : std::string(); };
      out.client_id = text(rd_kafka_MemberDescription_client_id(member));
      out.member_id = text(rd_kafka_MemberDescription_consumer_id(member));
      out.host = text(rd_kafka_MemberDescription_host(member));
      if (const rd_kafka_MemberAssignment_t* assignment =
              rd_kafka_MemberDescription_assignment(member)) {
        if (const rd_kafka_topic_partition_list_t* list =
                rd_kafka_MemberAssignment_partitions(assignment)) {
          for (int p = 0; p < list->cnt; ++p) {
            if (options.topic == list->elems[p].topic) {
              out.partitions.push_back(list->elems[p].partition);
            }
          }
        }
      }
      std::sort(out.partitions.begin(), out.partitions.end());
      view.members.push_back(std::move(out));
    }
  }
  if (count == 0 && view.members_unknown_why.empty()) {
    view.members_unknown_why = "describe consumer groups: the group was not described";
  }
  rd_kafka_event_destroy(event);
  std::sort(view.members.begin(), view.members.end(),
            [](const GroupMember& a, const GroupMember& b) { return a.client_id < b.client_id; });
}

absl::StatusOr<std::unique_ptr<KafkaGroupReader>> KafkaGroupReader::Create(
    const ClientOptions& client, GroupReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf(client, {{"group.id", options.group_id},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"}});
  if (!conf.ok()) return conf.status();
  std::string err;
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (impl->consumer == nullptr) {
    return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka consumer: ", err));
  }
  impl->options = std::move(options);
  impl->client = client;
  return std::unique_ptr<KafkaGroupReader>(new KafkaGroupReader(std::move(impl)));
}

KafkaGroupReader::KafkaGroupReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaGroupReader::~KafkaGroupReader() {
  // A wedged client's rd_kafka_destroy would not return (see Impl::admin): it is left as it is.
  if (!impl_->unsupported_why.empty()) static_cast<void>(impl_->admin.release());
  impl_->consumer->close();
}

absl::StatusOr<GroupView> KafkaGroupReader::Read() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mu);
  GroupView view{.group_id = impl.options.group_id, .topic = impl.options.topic};
  absl::StatusOr<std::vector<int32_t>> partitions = impl.Partitions();
  if (!partitions.ok()) return partitions.status();
  absl::StatusOr<std::vector<int64_t>> ends = impl.OffsetsAt(*partitions, -1);
  if (!ends.ok()) return ends.status();
  absl::StatusOr<std::vector<int64_t>> starts = impl.OffsetsAt(*partitions, -2);
  if (!starts.ok()) return starts.status();
  std::vector<RdKafka::TopicPartition*> committed;
  for (int32_t partition : *partitions) {
    committed.push_back(RdKafka::TopicPartition::create(impl.options.topic, partition));
  }
  absl::Status status =
      KafkaError(impl.consumer->committed(committed, TimeoutMs(impl.options.timeout)),
                 "committed offsets of " + impl.options.group_id);
  for (size_t i = 0; i < committed.size(); ++i) {
    RdKafka::TopicPartition* p = committed[i];
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = KafkaError(p->err(), "committed offset of " + p->topic());
    }
    PartitionLag lag{.partition = p->partition(), .log_end = (*ends)[i]};
    lag.committed = p->offset() >= 0 ? p->offset() : -1;
    // Without a commit everything from the log start waits; a commit behind the log start means
    // records were deleted unconsumed, and only what is left waits.
    lag.lag = std::max<int64_t>(lag.log_end - std::max(lag.committed, (*starts)[i]), 0);
    view.partitions.push_back(lag);
    delete p;
  }
  if (!status.ok()) return status;
  impl.Describe(view);
  return view;
}

}  // namespace pixq::queue
