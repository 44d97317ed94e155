#pragma once

// The on-disk record of the local broker's log: one Kafka record of one topic-partition (the file
// names the topic and partition), framed so that a torn or damaged write is found when the file
// is read again.
//
// Frame (all integers little-endian):
//   u32 length of the payload | u32 CRC-32 of the payload (zlib's crc32) | payload
// Payload:
//   i64 offset | i64 timestamp_ms | u8 flags (bit 0: tombstone) | u32 key length | key |
//   u32 value length | value | u32 header count | (u32 name length | name | u32 length | value)*
//
// No librdkafka type appears here: pkg/devlog knows files, not Kafka.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pixq::devlog {

struct Record {
  int64_t offset = 0;  // in the cluster that holds the partition now
  int64_t timestamp_ms = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<std::pair<std::string, std::string>> headers;

  bool operator==(const Record&) const = default;
};

// Frame and payload header sizes, and the largest payload a reader accepts (a length beyond it is
// taken for damage, not for a record).
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;

// The record as a frame, ready to append.
[[nodiscard]] std::string EncodeFrame(const Record& record);

// The outcome of reading a sequence of frames.
struct Decoded {
  std::vector<Record> records;
  // Bytes from the start that hold whole, intact frames; everything after is a torn or damaged
  // tail (a length past the end, a CRC that does not match, a payload that does not parse).
  uint64_t valid_bytes = 0;
};

// Reads frames from the start of `bytes` up to the first one that is not whole and intact.
[[nodiscard]] Decoded DecodeFrames(std::string_view bytes);

// The records a compacted topic keeps: the latest per key, in offset order, without the keys
// whose latest record is a tombstone.
[[nodiscard]] std::vector<Record> LatestPerKey(const std::vector<Record>& records);

}  // namespace pixq::devlog
