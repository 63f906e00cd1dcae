// Several threads parse and decode at once, from the process's first GMime call on (each
// ctest test runs in a process of its own, so GMime's initialisation races here too).

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "message_text.hpp"
#include "popfs/mime/header_decode.hpp"
#include "popfs/mime/part_tree.hpp"
#include "tree_checks.hpp"

namespace {

using popfs::mime::decode_part;
using popfs::mime::decoded_header;
using popfs::mime::parse_parts;
using popfs::mime::test::all_bytes;
using popfs::mime::test::base64_lines;
using popfs::mime::test::crlf;
using popfs::mime::test::list_files;

std::vector<std::string> test_messages() {
  std::vector<std::string> messages;
  for (int i = 0; i < 6; ++i) {
    messages.push_back(
        crlf("Subject: =?UTF-8?Q?caf=C3=A9_" + std::to_string(i) + "?=\n"
             "From: =?iso-8859-1?Q?J=F6rg?= <j@example.org>\n"
             "Content-Type: multipart/mixed; boundary=o\n\n"
             "--o\nContent-Type: multipart/alternative; boundary=a\n\n"
             "--a\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
             "quoted-printable\n\nr=C3=A9sum=C3=A9 " + std::to_string(i) + "\n"
             "--a\nContent-Type: text/html\n\n<p>x</p>\n--a--\n"
             "--o\nContent-Type: message/rfc822\n\nSubject: =?UTF-8?B?w6l0w6k=?=\n\ninner\n"
             "--o\nContent-Type: application/pdf\nContent-Disposition: attachment;\n"
             " filename*=UTF-8''%C3%A9t%C3%A9.pdf\nContent-Transfer-Encoding: base64\n\n") +
        base64_lines(all_bytes(20000 + static_cast<std::size_t>(i) * 1000)) + crlf("--o--\n"));
  }
  return messages;
}

// Everything a parse yields, as one string to compare.
std::string transcript(const std::string& message) {
  std::string out;
  const auto tree = parse_parts(message);
  for (const auto& file : list_files(tree)) {
    out += file.location + " " + file.entry->path.to_string() + " " +
           std::to_string(file.entry->decoded_size) + " " + file.entry->content_type + "\n";
    out += decode_part(message, *file.entry) + "\n";
  }
  out += decoded_header(message, "Subject").value_or("?") + "\n";
  out += decoded_header(message, "From").value_or("?") + "\n";
  return out;
}

TEST(MimeThreads, ConcurrentParsesAgreeWithASingleThread) {
  const std::vector<std::string> messages = test_messages();
  constexpr int kThreads = 4;
  constexpr int kRounds = 15;
  std::atomic<int> ready{0};
  std::vector<std::vector<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();  // start together
      for (int round = 0; round < kRounds; ++round) {
        for (const auto& message : messages) seen[static_cast<std::size_t>(t)].push_back(transcript(message));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<std::string> expected;
  for (const auto& message : messages) expected.push_back(transcript(message));
  EXPECT_NE(expected[0].find("\xC3\xA9t\xC3\xA9.pdf"), std::string::npos);
  EXPECT_NE(expected[0].find("J\xC3\xB6rg <j@example.org>"), std::string::npos);
  for (int t = 0; t < kThreads; ++t) {
    const auto& got = seen[static_cast<std::size_t>(t)];
    ASSERT_EQ(got.size(), messages.size() * kRounds);
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], expected[i % messages.size()]) << "thread " << t << " result " << i;
    }
  }
}

}  // namespace
