#pragma once
// Identity of a message across sessions: its UIDL, and which of the messages sharing that
// UIDL it is (RFC 1939 allows duplicates), counted in server order from 1.
// Never a message number: those are valid for one POP3 session only.

#include <compare>
#include <cstdint>
#include <string>

namespace popfs {

struct MessageId {
  std::string uidl;
  std::uint32_t occurrence = 1;

  friend auto operator<=>(const MessageId&, const MessageId&) = default;
  friend bool operator==(const MessageId&, const MessageId&) = default;
};

}  // namespace popfs
