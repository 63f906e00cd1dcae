#pragma once
// Messages as a server listed them, in server order, held compactly: every UIDL in one
// byte arena and a 12-byte row per message, with an open addressing index by id (8 bytes a
// message at half load). What few messages need more (a LIST size of 4 GiB or more, a UIDL
// repeated 65,535 times, message numbers that are not 1..n) is kept beside the rows. The
// one listed-message type: the maildrop produces it (streamed from UIDL and LIST), the cache
// and the filesystem core consume it. A million messages with 16-byte UIDLs take about
// 36 MB, instead of the ~200 MB of a vector of strings and a std::map.
//
// Not thread-safe; a const MessageTable may be read from several threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "popfs/util/message_id.hpp"

namespace popfs {

class MessageTable {
 public:
  // Appends a message in server order. Its occurrence is counted among the rows before it
  // with the same UIDL (1 for the first). `number` is the session's message number.
  std::size_t append(std::string_view uidl, std::uint32_t number, std::uint64_t size = 0);
  void reserve(std::size_t rows, std::size_t uidl_bytes);  // the index too
  // Gives back what growing left unused, once the table is complete.
  void shrink_to_fit();

  std::size_t size() const noexcept { return rows_.size(); }
  bool empty() const noexcept { return rows_.empty(); }

  std::string_view uidl(std::size_t row) const noexcept {
    const Row& r = rows_[row];
    return {arena_.data() + r.uidl_offset, r.uidl_length};
  }
  std::uint32_t occurrence(std::size_t row) const {
    const std::uint16_t small = rows_[row].occurrence;
    return small != kBeyond16 ? small : large_occurrences_.at(static_cast<std::uint32_t>(row));
  }
  std::uint32_t number(std::size_t row) const noexcept {
    return numbers_dense_ ? static_cast<std::uint32_t>(row + 1) : numbers_[row];
  }
  std::uint64_t size_of(std::size_t row) const {
    const std::uint32_t small = rows_[row].size;
    return small != kBeyond32 ? small : large_sizes_.at(static_cast<std::uint32_t>(row));
  }
  void set_size(std::size_t row, std::uint64_t size);
  MessageId id(std::size_t row) const { return MessageId{std::string(uidl(row)), occurrence(row)}; }

  std::optional<std::size_t> find(std::string_view uidl, std::uint32_t occurrence) const;
  std::optional<std::size_t> find(const MessageId& id) const { return find(id.uidl, id.occurrence); }
  // The row with this message number (numbers are usually 1..n in order: then O(1)).
  std::optional<std::size_t> find_number(std::uint32_t number) const;

  // Bytes held (arena, rows, index), for memory accounting.
  std::size_t memory_bytes() const noexcept;

 private:
  struct Row {  // 12 bytes
    std::uint32_t uidl_offset;
    std::uint32_t size;        // kBeyond32: in large_sizes_
    std::uint16_t uidl_length;  // UIDLs are at most 1,024 bytes (pop3::default_max_uidl_bytes)
    std::uint16_t occurrence;  // kBeyond16: in large_occurrences_
  };
  static constexpr std::uint32_t kBeyond32 = 0xFFFFFFFF;
  static constexpr std::uint16_t kBeyond16 = 0xFFFF;
  static std::uint64_t hash(std::string_view uidl, std::uint32_t occurrence) noexcept;
  // Slots: row + 1 in the low kRowBits, 8 bits of the hash above (0 = empty).
  static constexpr unsigned kRowBits = 24;
  static constexpr std::uint32_t kRowMask = (std::uint32_t{1} << kRowBits) - 1;
  static constexpr std::size_t kMaxRows = kRowMask - 1;  // 16,777,214 messages
  static constexpr std::size_t kNoSlot = ~std::size_t{0};
  static std::uint32_t slot_value(std::size_t row, std::uint64_t h) noexcept;
  struct Probe {
    std::size_t slot;                // where the probe found the row, or the free slot it ended at
    std::optional<std::size_t> row;  // the row with this id, if any
  };
  Probe probe_for(std::string_view uidl, std::uint32_t occurrence, std::uint64_t h) const;
  void insert_into_index(std::size_t row);
  static std::size_t index_capacity_for(std::size_t rows) noexcept;
  void grow_index();
  void rebuild_index(std::size_t capacity);  // a power of two

  std::string arena_;
  std::vector<Row> rows_;
  std::vector<std::uint32_t> slots_;  // see kRowBits; size a power of two
  // Occurrences counted so far of UIDLs seen more than once (usually empty).
  std::unordered_map<std::string, std::uint32_t> repeats_;
  bool numbers_dense_ = true;  // row i has number i + 1; otherwise:
  std::vector<std::uint32_t> numbers_;                            // by row
  std::unordered_map<std::uint32_t, std::uint32_t> number_rows_;  // number -> row
  std::unordered_map<std::uint32_t, std::uint64_t> large_sizes_;        // by row
  std::unordered_map<std::uint32_t, std::uint32_t> large_occurrences_;  // by row
};

}  // namespace popfs
