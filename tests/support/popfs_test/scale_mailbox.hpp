#pragma once
// The "scale mailbox" for scripts/bench-scale: any number of small, deterministic messages,
// each computed from (seed, index) alone, so a server can produce message k of a million on
// the fly and a Maildir writer can produce the same bytes. Messages use LF line endings, as
// stored in a Maildir; the wire form is to_crlf() of them, dot-stuffed.
//
// Every message has a realistic header block (Received, an RFC 5322 Date between 2005 and
// 2025, From, To, Subject, Message-ID) of about 600 bytes, and a plain-text body of 150 to
// 2,500 bytes, or 8 to 40 KB for about 3 in 100. About 1 in 16 bodies has lines starting
// with '.'. The sender is "Gustavo Smith" for 1 in 64 messages (scripts grep for it).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace popfs::test {

// Bumped whenever the bytes of any message change (cached mailboxes are keyed by it).
inline constexpr int kScaleMailboxVersion = 1;

struct ScaleMessage {
  std::string header;  // the header block, each line ending in '\n', without the blank line
  std::string body;    // everything after the blank line
  // LF sizes: the whole message is header + "\n" + body.
  std::size_t lf_size() const { return header.size() + 1 + body.size(); }
};

// Message `index` (0-based) of the scale mailbox with this seed.
ScaleMessage scale_message(std::uint64_t seed, std::size_t index);
// Its header block alone (what TOP n 0 needs), without building the body.
std::string scale_message_header(std::uint64_t seed, std::size_t index);

struct ScaleSizes {
  std::size_t lf = 0;    // bytes in a Maildir file
  std::size_t crlf = 0;  // bytes RETR sends (and LIST says): LF -> CRLF
};
// The sizes of message `index` without building its body (a few hundred ns).
ScaleSizes scale_message_sizes(std::uint64_t seed, std::size_t index);

// The Maildir file name for message `index` (in cur/): names sort in index order, and carry
// S= (file size) and W= (CRLF size) so that Dovecot need not read a file to LIST it.
std::string scale_maildir_file_name(std::size_t index, const ScaleSizes& sizes);

// Writes messages [0, count) into dir/{cur,new,tmp}. Throws std::runtime_error on failure.
void write_scale_maildir(const std::filesystem::path& dir, std::uint64_t seed, std::size_t count);

}  // namespace popfs::test
