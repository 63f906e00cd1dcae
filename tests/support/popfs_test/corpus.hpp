#pragma once
// Deterministic synthetic mail for tests and benchmarks. Messages use LF line endings, as
// stored in a Maildir; a POP3 server sends them with CRLF (see to_crlf).
//
// Every corpus of 6 or more messages contains, among its first 6 messages: a MIME multipart
// message with a base64 attachment, lines starting with '.', a line that is exactly ".",
// a line longer than 2,048 bytes, and 8-bit bytes. Headers are realistic: a Received chain,
// an RFC 5322 Date (varied), Message-ID, From, To, Subject.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace popfs::test {

struct CorpusOptions {
  std::size_t count = 20;             // number of messages, large ones included
  std::uint64_t seed = 1;             // same options and seed -> same bytes
  std::size_t large_count = 0;        // how many of them are large
  std::size_t large_bytes = 4 << 20;  // approximate size of each large message
  std::size_t mean_body_bytes = 3000; // typical size of an ordinary message's text

  // The "benchmark mailbox": 2,000 messages, about 22 MB in total (3 of them several MB).
  static CorpusOptions benchmark();
};

struct CorpusMessage {
  std::string content{};    // the message, LF line endings
  std::string maildir_name{};  // base file name in the Maildir (sorted names = corpus order)
};

struct Corpus {
  std::vector<CorpusMessage> messages{};
  std::size_t total_bytes() const;  // sum of LF sizes
};

Corpus generate_corpus(const CorpusOptions& options);

// A Maildir base name for the n-th message. Names sort in n order, and Dovecot assigns
// UIDs (and so UIDLs and message numbers) in name order, so corpus order = server order.
std::string maildir_base_name(std::size_t n);

// Creates dir/{cur,new,tmp} (mode 0755) and writes every message into cur/ as
// "<maildir_name>:2,". Throws std::runtime_error on failure.
void write_maildir(const std::filesystem::path& dir, const Corpus& corpus);

// LF -> CRLF (a CR already before LF is kept as is): what POP3 RETR returns for a Maildir file.
std::string to_crlf(std::string_view lf_text);

}  // namespace popfs::test
