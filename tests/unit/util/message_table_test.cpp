// The compact listing: rows in server order, occurrences of duplicate UIDLs, lookups by id
// and by message number, and its size per message.

#include <gtest/gtest.h>

#include <random>

#include "popfs/util/message_table.hpp"

namespace popfs {
namespace {

TEST(MessageTable, KeepsServerOrderAndFindsEveryRowById) {
  MessageTable table;
  for (std::uint32_t n = 1; n <= 5000; ++n) table.append("uidl-" + std::to_string(n * 7919 % 100003), n, n * 10);
  ASSERT_EQ(table.size(), 5000u);
  for (std::size_t row = 0; row < table.size(); ++row) {
    const std::string uidl = "uidl-" + std::to_string((row + 1) * 7919 % 100003);
    EXPECT_EQ(table.uidl(row), uidl);
    EXPECT_EQ(table.occurrence(row), 1u);
    EXPECT_EQ(table.size_of(row), (row + 1) * 10);
    ASSERT_EQ(table.find(uidl, 1), row);
    EXPECT_EQ(table.find(uidl, 2), std::nullopt);
  }
  EXPECT_EQ(table.find("uidl-absent", 1), std::nullopt);
}

TEST(MessageTable, AReservedTableFindsEveryRowAndStillGrowsPastTheReservation) {
  MessageTable table;
  table.reserve(1000, 1000 * 8);
  for (std::uint32_t n = 1; n <= 3000; ++n) table.append("r" + std::to_string(n % 2500), n);  // 500 repeats
  for (std::size_t row = 0; row < table.size(); ++row) {
    const auto uidl = std::string(table.uidl(row));
    ASSERT_EQ(table.find(uidl, table.occurrence(row)), row) << uidl;
  }
  EXPECT_EQ(table.occurrence(2499), 1u);  // "r0" at n = 2500
  EXPECT_EQ(table.occurrence(2500), 2u);  // "r1" again
  EXPECT_EQ(table.find("r1", 3), std::nullopt);
}

// What does not fit a 12-byte row is kept beside it, and reads back the same.
TEST(MessageTable, HugeSizesManyRepeatsAndSparseNumbersReadBackExactly) {
  MessageTable table;
  table.append("big", 1, 5ULL << 32);
  table.append("small", 2, 7);
  table.append("edge", 3, 0xFFFFFFFFULL);  // the marker value itself is a large size
  for (std::uint32_t n = 4; n < 70004; ++n) table.append("same", n == 70003 ? 80000 : n, n);
  EXPECT_EQ(table.size_of(0), 5ULL << 32);
  EXPECT_EQ(table.size_of(1), 7u);
  EXPECT_EQ(table.size_of(2), 0xFFFFFFFFULL);
  table.set_size(0, 9);
  table.set_size(1, 6ULL << 32);
  EXPECT_EQ(table.size_of(0), 9u);
  EXPECT_EQ(table.size_of(1), 6ULL << 32);
  EXPECT_EQ(table.occurrence(3 + 65533), 65534u);
  EXPECT_EQ(table.occurrence(3 + 65534), 65535u);
  EXPECT_EQ(table.occurrence(3 + 69999), 70000u);
  EXPECT_EQ(table.find("same", 70000), 3u + 69999u);
  EXPECT_EQ(table.find("same", 65535), 3u + 65534u);
  // The last number skips: every row keeps its number, and numbers find their rows.
  EXPECT_EQ(table.number(3 + 69999), 80000u);
  EXPECT_EQ(table.number(10), 11u);
  EXPECT_EQ(table.find_number(80000), 3u + 69999u);
  EXPECT_EQ(table.find_number(11), 10u);
  EXPECT_EQ(table.find_number(70003), std::nullopt);
}

TEST(MessageTable, DuplicateUidlsAreCountedInServerOrder) {
  MessageTable table;
  table.append("dup", 1);
  table.append("x", 2);
  table.append("dup", 3);
  table.append("dup", 4);
  EXPECT_EQ(table.occurrence(0), 1u);
  EXPECT_EQ(table.occurrence(1), 1u);
  EXPECT_EQ(table.occurrence(2), 2u);
  EXPECT_EQ(table.occurrence(3), 3u);
  EXPECT_EQ(table.find(MessageId{"dup", 3}), 3u);
  EXPECT_EQ(table.find(MessageId{"dup", 4}), std::nullopt);
  EXPECT_EQ(table.id(2), (MessageId{"dup", 2}));
}

TEST(MessageTable, ManyDuplicatesStayFast) {
  // A hostile server repeating one UIDL: occurrence counting must not be quadratic.
  MessageTable table;
  for (std::uint32_t n = 1; n <= 200000; ++n) table.append("same", n);
  EXPECT_EQ(table.occurrence(199999), 200000u);
  EXPECT_EQ(table.find("same", 123456), 123455u);
}

TEST(MessageTable, UidlBytesAreKeptVerbatim) {
  MessageTable table;
  const std::string odd("a/b\0c", 5);
  table.append(odd, 1);
  table.append("", 2);
  EXPECT_EQ(table.uidl(0), odd);
  EXPECT_EQ(table.find(odd, 1), 0u);
  EXPECT_EQ(table.find("", 1), 1u);
}

TEST(MessageTable, FindsRowsByMessageNumberDenseOrNot) {
  MessageTable dense;
  for (std::uint32_t n = 1; n <= 10; ++n) dense.append("m" + std::to_string(n), n);
  EXPECT_EQ(dense.find_number(1), 0u);
  EXPECT_EQ(dense.find_number(10), 9u);
  EXPECT_EQ(dense.find_number(11), std::nullopt);
  EXPECT_EQ(dense.find_number(0), std::nullopt);

  MessageTable sparse;  // a server whose numbers skip (messages deleted in this session)
  sparse.append("a", 1);
  sparse.append("b", 3);
  sparse.append("c", 7);
  EXPECT_EQ(sparse.find_number(1), 0u);
  EXPECT_EQ(sparse.find_number(3), 1u);
  EXPECT_EQ(sparse.find_number(7), 2u);
  EXPECT_EQ(sparse.find_number(2), std::nullopt);
}

TEST(MessageTable, CostsFewDozenBytesPerMessageBesidesTheUidl) {
  MessageTable table;
  constexpr std::size_t kCount = 100000;
  for (std::uint32_t n = 1; n <= kCount; ++n) {
    char uidl[17];
    std::snprintf(uidl, sizeof uidl, "%08x%08x", n, 0x5f000000u);
    table.append(uidl, n, 1000);
  }
  const double per_message = static_cast<double>(table.memory_bytes()) / kCount;
  EXPECT_LT(per_message, 16 + 12 + 2 * 4 * 2 + 8) << per_message;  // UIDL, row, index at half load
}

}  // namespace
}  // namespace popfs
