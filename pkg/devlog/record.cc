#include "pkg/devlog/record.h"

#include <cstring>
#include <unordered_map>

#include <zlib.h>

namespace pixq::devlog {
namespace {

constexpr uint8_t kTombstone = 1;

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutBytes(std::string& out, std::string_view bytes) {
  PutU32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

uint32_t Crc(std::string_view bytes) {
  // zlib's crc32 (IEEE polynomial); zlib1g is on every Debian system.
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Reads the payload's fields in order; any read past the end makes the payload invalid.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool U8(uint8_t& v) {
    if (bytes_.size() < 1) return false;
    v = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t& v) {
    if (bytes_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    bytes_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& v) {
    if (bytes_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes_[i])) << (8 * i);
    bytes_.remove_prefix(8);
    return true;
  }
  bool Bytes(std::string& v) {
    uint32_t n = 0;
    if (!U32(n) || bytes_.size() < n) return false;
    v.assign(bytes_.data(), n);
    bytes_.remove_prefix(n);
    return true;
  }
  bool AtEnd() const { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

std::optional<Record> ParsePayload(std::string_view payload) {
  Reader in(payload);
  Record r;
  uint64_t offset = 0;
  uint64_t timestamp = 0;
  uint8_t flags = 0;
  std::string value;
  uint32_t headers = 0;
  if (!in.U64(offset) || !in.U64(timestamp) || !in.U8(flags) || !in.Bytes(r.key) ||
      !in.Bytes(value) || !in.U32(headers)) {
    return std::nullopt;
  }
  r.offset = static_cast<int64_t>(offset);
  r.timestamp_ms = static_cast<int64_t>(timestamp);
  if ((flags & kTombstone) == 0) r.value = std::move(value);
  for (uint32_t i = 0; i < headers; ++i) {
    std::pair<std::string, std::string> h;
    if (!in.Bytes(h.first) || !in.Bytes(h.second)) return std::nullopt;
    r.headers.push_back(std::move(h));
  }
  if (!in.AtEnd()) return std::nullopt;
  return r;
}

}  // namespace

std::string EncodeFrame(const Record& record) {
  std::string payload;
  PutU64(payload, static_cast<uint64_t>(record.offset));
  PutU64(payload, static_cast<uint64_t>(record.timestamp_ms));
  payload.push_back(static_cast<char>(record.value ? 0 : kTombstone));
  PutBytes(payload, record.key);
  PutBytes(payload, record.value ? std::string_view(*record.value) : std::string_view());
  PutU32(payload, static_cast<uint32_t>(record.headers.size()));
  for (const auto& [name, value] : record.headers) {
    PutBytes(payload, name);
    PutBytes(payload, value);
  }
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  PutU32(frame, static_cast<uint32_t>(payload.size()));
  PutU32(frame, Crc(payload));
  frame.append(payload);
  return frame;
}

Decoded DecodeFrames(std::string_view bytes) {
  Decoded out;
  std::string_view rest = bytes;
  while (rest.size() >= kFrameHeaderBytes) {
    Reader header(rest.substr(0, kFrameHeaderBytes));
    uint32_t length = 0;
    uint32_t crc = 0;
    header.U32(length);
    header.U32(crc);
    if (length > kMaxPayloadBytes || rest.size() - kFrameHeaderBytes < length) break;
    const std::string_view payload = rest.substr(kFrameHeaderBytes, length);
    if (Crc(payload) != crc) break;
    std::optional<Record> record = ParsePayload(payload);
    if (!record) break;
    out.records.push_back(*std::move(record));
    rest.remove_prefix(kFrameHeaderBytes + length);
    out.valid_bytes += kFrameHeaderBytes + length;
  }
  return out;
}

std::vector<Record> LatestPerKey(const std::vector<Record>& records) {
  std::unordered_map<std::string_view, size_t> latest;  // key -> index of its latest record
  for (size_t i = 0; i < records.size(); ++i) latest[records[i].key] = i;
  std::vector<Record> kept;
  for (size_t i = 0; i < records.size(); ++i) {
    if (latest[records[i].key] == i && records[i].value) kept.push_back(records[i]);
  }
  return kept;
}

}  // namespace pixq::devlog
