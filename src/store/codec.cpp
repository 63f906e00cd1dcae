#include "codec.hpp"

#include "store_failure.hpp"

namespace popfs::store::codec {
namespace {

// One append of the whole number, not a push_back (and its capacity check) per byte: a cold
// listing of a million messages encodes some ten million of them.
template <std::size_t Bytes, class Unsigned>
void append_be(std::string& out, Unsigned value) {
  char bytes[Bytes];
  for (std::size_t i = 0; i < Bytes; ++i) bytes[i] = static_cast<char>((value >> (8 * (Bytes - 1 - i))) & 0xFFU);
  out.append(bytes, Bytes);
}

void append_u32_be(std::string& out, std::uint32_t value) { append_be<4>(out, value); }
void append_u64_be(std::string& out, std::uint64_t value) { append_be<8>(out, value); }

std::uint32_t read_u32_be(std::string_view bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// Record value layouts:
// 1 (42 bytes, schema 1): u8 1 | u64 serial | u64 list_size | u64 exact_size | i64 mtime
//   | i64 first_seen | u8 flags (bit 0 exact_size known, bit 1 has_stub, bit 2 has_body)
// 2 (51 bytes): layout 1 with u8 2 and, after the flags, u64 stub_size (bit 3: known) and
//   u8 mail_flags
// Layout 1 records are read as they are and written back as layout 2.
constexpr char kRecordLayout1 = 1;
constexpr char kRecordLayout = 2;
constexpr std::size_t kRecordBytes1 = 1 + 5 * 8 + 1;
constexpr std::size_t kRecordBytes = kRecordBytes1 + 8 + 1;
constexpr unsigned kHasExactSize = 1U;
constexpr unsigned kHasStub = 2U;
constexpr unsigned kHasBody = 4U;
constexpr unsigned kHasStubSize = 8U;

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
  if (!keyable_uidl(id.uidl)) {
    throw StoreFailure(Errc::invalid_argument,
                       "UIDL of " + std::to_string(id.uidl.size()) + " bytes cannot be cached (1 to " +
                           std::to_string(kMaxUidlBytes) + " allowed)");
  }
  if (id.occurrence == 0) throw StoreFailure(Errc::invalid_argument, "message occurrence 0 (they count from 1)");
  std::string key;
  message_key_into(id.uidl, id.occurrence, key);
  return key;
}

void message_key_into(std::string_view uidl, std::uint32_t occurrence, std::string& out) {
  out.clear();
  out.reserve(8 + uidl.size());
  append_u32_be(out, static_cast<std::uint32_t>(uidl.size()));
  out += uidl;
  append_u32_be(out, occurrence);
}

MessageId decode_message_key(std::string_view key) {
  MessageId id;
  decode_message_key_into(key, id);
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
  encode_record_into(record, out);
  return out;
}

void encode_record_into(const MessageRecord& record, std::string& out) {
  out.clear();
  out.reserve(kRecordBytes);
  out.push_back(kRecordLayout);
  append_u64_be(out, record.serial);
  append_u64_be(out, record.list_size);
  append_u64_be(out, record.exact_size.value_or(0));
  append_u64_be(out, static_cast<std::uint64_t>(record.mtime));
  append_u64_be(out, static_cast<std::uint64_t>(record.first_seen));
  unsigned flags = 0;
  if (record.exact_size) flags |= kHasExactSize;
  if (record.has_stub) flags |= kHasStub;
  if (record.has_body) flags |= kHasBody;
  if (record.stub_size) flags |= kHasStubSize;
  out.push_back(static_cast<char>(flags));
  append_u64_be(out, record.stub_size.value_or(0));
  out.push_back(static_cast<char>(record.mail_flags));
}

void decode_record_into(std::string_view value, MessageRecord& record) {
  const bool layout1 = value.size() == kRecordBytes1 && value[0] == kRecordLayout1;
  if (!layout1 && (value.size() != kRecordBytes || value[0] != kRecordLayout)) {
    throw StoreFailure(Errc::cache, "damaged cache: message record of unknown layout");
  }
  record.serial = read_u64_be(value.substr(1, 8));
  record.list_size = read_u64_be(value.substr(9, 8));
  const std::uint64_t exact = read_u64_be(value.substr(17, 8));
  record.mtime = static_cast<std::int64_t>(read_u64_be(value.substr(25, 8)));
  record.first_seen = static_cast<std::int64_t>(read_u64_be(value.substr(33, 8)));
  const auto flags = static_cast<unsigned char>(value[41]);
  record.exact_size.reset();
  record.stub_size.reset();
  if ((flags & kHasExactSize) != 0) record.exact_size = exact;
  record.has_stub = (flags & kHasStub) != 0;
  record.has_body = (flags & kHasBody) != 0;
  if (!layout1 && (flags & kHasStubSize) != 0) record.stub_size = read_u64_be(value.substr(42, 8));
  record.mail_flags = layout1 ? 0 : static_cast<std::uint8_t>(value[50]);
}

MessageRecord decode_record(const MessageId& id, std::string_view value) {
  MessageRecord record;
  record.id = id;
  decode_record_into(value, record);
  return record;
}

void decode_message_key_into(std::string_view key, MessageId& id) {
  if (key.size() < 8) throw StoreFailure(Errc::cache, "damaged cache: short message key");
  const std::uint32_t length = read_u32_be(key);
  if (key.size() != 8 + std::size_t{length}) throw StoreFailure(Errc::cache, "damaged cache: bad message key length");
  id.uidl.assign(key.substr(4, length));
  id.occurrence = read_u32_be(key.substr(4 + length));
}

int compare_message_keys(std::string_view uidl_a, std::uint32_t occurrence_a, std::string_view uidl_b,
                         std::uint32_t occurrence_b) noexcept {
  // The byte order of message_key(): length first, then the bytes, then the occurrence.
  if (uidl_a.size() != uidl_b.size()) return uidl_a.size() < uidl_b.size() ? -1 : 1;
  if (const int c = uidl_a.compare(uidl_b); c != 0) return c < 0 ? -1 : 1;
  if (occurrence_a != occurrence_b) return occurrence_a < occurrence_b ? -1 : 1;
  return 0;
}

}  // namespace popfs::store::codec
