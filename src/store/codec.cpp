#include "codec.hpp"

#include "store_failure.hpp"

namespace popfs::store::codec {
namespace {

void append_u32_be(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFFU));
}

void append_u64_be(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFFU));
}

std::uint32_t read_u32_be(std::string_view bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// Record value layout, version 1 (42 bytes):
// u8 layout version | u64 inode | u64 list_size | u64 exact_size | i64 mtime | i64 first_seen
// | u8 flags (bit 0 exact_size known, bit 1 has_stub, bit 2 has_body)
constexpr char kRecordLayout = 1;
constexpr std::size_t kRecordBytes = 1 + 5 * 8 + 1;
constexpr unsigned kHasExactSize = 1U;
constexpr unsigned kHasStub = 2U;
constexpr unsigned kHasBody = 4U;

}  // namespace

std::string u64_be(std::uint64_t value) {
  std::string out;
  append_u64_be(out, value);
  return out;
}

std::uint64_t read_u64_be(std::string_view bytes) {
  if (bytes.size() != 8) throw StoreFailure(Errc::cache, "damaged cache: a counter is not 8 bytes long");
  std::uint64_t value = 0;
  for (char byte : bytes) value = (value << 8) | static_cast<unsigned char>(byte);
  return value;
}

std::string message_key(const MessageId& id) {
  if (id.uidl.empty() || id.uidl.size() > kMaxUidlBytes) {
    throw StoreFailure(Errc::invalid_argument,
                       "UIDL of " + std::to_string(id.uidl.size()) + " bytes cannot be cached (1 to " +
                           std::to_string(kMaxUidlBytes) + " allowed)");
  }
  if (id.occurrence == 0) throw StoreFailure(Errc::invalid_argument, "message occurrence 0 (they count from 1)");
  std::string key;
  key.reserve(8 + id.uidl.size());
  append_u32_be(key, static_cast<std::uint32_t>(id.uidl.size()));
  key += id.uidl;
  append_u32_be(key, id.occurrence);
  return key;
}

MessageId decode_message_key(std::string_view key) {
  if (key.size() < 8) throw StoreFailure(Errc::cache, "damaged cache: short message key");
  const std::uint32_t length = read_u32_be(key);
  if (key.size() != 8 + std::size_t{length}) throw StoreFailure(Errc::cache, "damaged cache: bad message key length");
  MessageId id;
  id.uidl = std::string(key.substr(4, length));
  id.occurrence = read_u32_be(key.substr(4 + length));
  return id;
}

std::string chunk_prefix(std::string_view message_key, std::uint64_t generation) {
  std::string key(message_key);
  append_u64_be(key, generation);
  return key;
}

std::string chunk_key(std::string_view message_key, std::uint64_t generation, std::uint32_t chunk) {
  std::string key = chunk_prefix(message_key, generation);
  append_u32_be(key, chunk);
  return key;
}

std::string encode_stored(const StoredBody& stored) {
  std::string out;
  append_u64_be(out, stored.tick);
  append_u64_be(out, stored.generation);
  return out;
}

StoredBody decode_stored(std::string_view value) {
  if (value.size() != 16) throw StoreFailure(Errc::cache, "damaged cache: stored-body entry of unknown layout");
  return StoredBody{read_u64_be(value.substr(0, 8)), read_u64_be(value.substr(8, 8))};
}

std::string order_key(std::uint64_t tick, std::string_view message_key) {
  std::string key;
  append_u64_be(key, tick);
  key += message_key;
  return key;
}

std::string_view message_key_of_order_key(std::string_view order_key) {
  if (order_key.size() < 8) throw StoreFailure(Errc::cache, "damaged cache: short lru key");
  return order_key.substr(8);
}

std::string encode_record(const MessageRecord& record) {
  std::string out;
  out.reserve(kRecordBytes);
  out.push_back(kRecordLayout);
  append_u64_be(out, record.inode);
  append_u64_be(out, record.list_size);
  append_u64_be(out, record.exact_size.value_or(0));
  append_u64_be(out, static_cast<std::uint64_t>(record.mtime));
  append_u64_be(out, static_cast<std::uint64_t>(record.first_seen));
  unsigned flags = 0;
  if (record.exact_size) flags |= kHasExactSize;
  if (record.has_stub) flags |= kHasStub;
  if (record.has_body) flags |= kHasBody;
  out.push_back(static_cast<char>(flags));
  return out;
}

MessageRecord decode_record(const MessageId& id, std::string_view value) {
  if (value.size() != kRecordBytes || value[0] != kRecordLayout) {
    throw StoreFailure(Errc::cache, "damaged cache: message record of unknown layout");
  }
  MessageRecord record;
  record.id = id;
  record.inode = read_u64_be(value.substr(1, 8));
  record.stub_inode = record.inode + 1;
  record.list_size = read_u64_be(value.substr(9, 8));
  const std::uint64_t exact = read_u64_be(value.substr(17, 8));
  record.mtime = static_cast<std::int64_t>(read_u64_be(value.substr(25, 8)));
  record.first_seen = static_cast<std::int64_t>(read_u64_be(value.substr(33, 8)));
  const auto flags = static_cast<unsigned char>(value[41]);
  if ((flags & kHasExactSize) != 0) record.exact_size = exact;
  record.has_stub = (flags & kHasStub) != 0;
  record.has_body = (flags & kHasBody) != 0;
  return record;
}

}  // namespace popfs::store::codec
