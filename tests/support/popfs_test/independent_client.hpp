#pragma once
// A POP3 client that shares no code with popfs, to compare popfs against: Python's poplib
// (tests/support/poplib_dump.py) over pop3s, verifying the server certificate with ca_file.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace popfs::test {

class Dovecot;

struct IndependentMessage {
  std::string uidl{};
  std::size_t list_size = 0;  // as LIST reported it
  std::string content{};      // exact RETR bytes: dot-unstuffed, CRLF, no terminating ".\r\n"
};

struct Pop3sEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string ca_file{};
  std::string user{};
  std::string password{};
};
Pop3sEndpoint pop3s_endpoint(const Dovecot& dovecot);

// Every message in server order. Throws std::runtime_error (with poplib's output) on failure.
std::vector<IndependentMessage> fetch_all_independently(const Pop3sEndpoint& endpoint);
std::vector<IndependentMessage> fetch_all_independently(const Dovecot& dovecot);
// Server-order UIDLs only (no RETR).
std::vector<std::string> uidls_independently(const Pop3sEndpoint& endpoint);
// "TOP <n> <lines>" of the message with this UIDL: exact bytes, as for RETR.
std::string top_independently(const Pop3sEndpoint& endpoint, const std::string& uidl, std::size_t lines);
std::string top_independently(const Dovecot& dovecot, const std::string& uidl, std::size_t lines);
// "TOP <n> <lines>" of every message, in server order, in one session.
std::vector<std::string> top_all_independently(const Pop3sEndpoint& endpoint, std::size_t lines);
std::vector<std::string> top_all_independently(const Dovecot& dovecot, std::size_t lines);

}  // namespace popfs::test
