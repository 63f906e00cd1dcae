#pragma once
// Byte layouts of the cache's keys and values.
//
// A message key is  u32 BE length of the UIDL | UIDL bytes | u32 BE occurrence.
// The length prefix makes the encoding prefix-free, so arbitrary UIDL bytes (NUL, '~',
// anything) and the occurrence can never make two ids collide, and "every key starting
// with this message key" means exactly the chunks of that message in the bodies table.

#include <cstdint>
#include <string>
#include <string_view>

#include "popfs/store/cache.hpp"
#include "popfs/util/message_id.hpp"

namespace popfs::store::codec {

// LMDB keys are at most 511 bytes; RFC 1939 UIDLs are at most 70.
inline constexpr std::size_t kMaxUidlBytes = 400;

std::string u64_be(std::uint64_t value);
std::uint64_t read_u64_be(std::string_view bytes);  // throws StoreFailure unless 8 bytes

// Whether message_key() takes this UIDL (1 to kMaxUidlBytes bytes).
inline bool keyable_uidl(std::string_view uidl) { return !uidl.empty() && uidl.size() <= kMaxUidlBytes; }
// Throws StoreFailure(invalid_argument) for an empty or over-long UIDL or occurrence 0.
std::string message_key(const MessageId& id);
// message_key() into `out` (cleared first) from the UIDL's bytes: no MessageId, no allocation
// once `out` has grown. The UIDL must be keyable and the occurrence at least 1.
void message_key_into(std::string_view uidl, std::uint32_t occurrence, std::string& out);
MessageId decode_message_key(std::string_view key);  // throws StoreFailure(cache) if malformed
void decode_message_key_into(std::string_view key, MessageId& id);  // reuses id's buffer
// The order of message_key(a) and message_key(b) as LMDB sorts them (<0, 0, >0), without
// building the keys.
int compare_message_keys(std::string_view uidl_a, std::uint32_t occurrence_a, std::string_view uidl_b,
                         std::uint32_t occurrence_b) noexcept;

// bodies: message key | u64 BE body generation | u32 BE chunk number. Every stored or
// staged body has its own generation, so a body being written never touches the chunks of
// the body readers currently see.
std::string chunk_prefix(std::string_view message_key, std::uint64_t generation);
std::string chunk_key(std::string_view message_key, std::uint64_t generation, std::uint32_t chunk);

// stored: which generation of a body is the committed one, and when it was last read.
struct StoredBody {
  std::uint64_t tick = 0;
  std::uint64_t generation = 0;
};
std::string encode_stored(const StoredBody& stored);
StoredBody decode_stored(std::string_view value);
// lru_order: u64 BE access tick | message key
std::string order_key(std::uint64_t tick, std::string_view message_key);
std::string_view message_key_of_order_key(std::string_view order_key);

std::string encode_record(const MessageRecord& record);
void encode_record_into(const MessageRecord& record, std::string& out);  // out cleared first
// The id is not stored in the value (it is the key).
MessageRecord decode_record(const MessageId& id, std::string_view value);
void decode_record_into(std::string_view value, MessageRecord& record);  // all but the id

}  // namespace popfs::store::codec
