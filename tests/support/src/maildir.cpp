#include "popfs_test/maildir.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>
#include <tuple>

#include "popfs_test/temp_dir.hpp"

namespace popfs::test {

namespace fs = std::filesystem;

MaildirEntry parse_maildir_name(const fs::path& maildir, std::string_view subdir,
                                std::string_view file_name) {
  MaildirEntry entry;
  entry.subdir = std::string(subdir);
  entry.path = maildir / std::string(subdir) / std::string(file_name);
  const auto info = file_name.rfind(":2,");
  if (info == std::string_view::npos) {
    entry.unique = std::string(file_name);
  } else {
    entry.unique = std::string(file_name.substr(0, info));
    entry.flags = std::string(file_name.substr(info + 3));
  }
  return entry;
}

std::vector<MaildirEntry> list_maildir(const fs::path& maildir) {
  std::vector<MaildirEntry> entries;
  for (const char* subdir : {"cur", "new"}) {
    std::error_code ec;
    fs::directory_iterator it(maildir / subdir, ec);
    if (ec) throw std::runtime_error("list_maildir: cannot read " + (maildir / subdir).string() + ": " + ec.message());
    for (const auto& file : it) {
      const std::string name = file.path().filename().string();
      if (name.starts_with('.')) continue;
      entries.push_back(parse_maildir_name(maildir, subdir, name));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const MaildirEntry& a, const MaildirEntry& b) {
    return std::tie(a.unique, a.subdir) < std::tie(b.unique, b.subdir);
  });
  return entries;
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::optional<std::string> header_field(const fs::path& message_file, std::string_view name) {
  std::ifstream in(message_file, std::ios::binary);
  if (!in) throw std::runtime_error("header_field: cannot open " + message_file.string());
  std::optional<std::string> value;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of the header block
    const bool continuation = line.front() == ' ' || line.front() == '\t';
    if (continuation) {
      if (value) *value += " " + trim(line);
      continue;
    }
    if (value) break;  // the field we found has ended
    const auto colon = line.find(':');
    if (colon != std::string::npos && iequals(std::string_view(line).substr(0, colon), name)) {
      value = trim(std::string_view(line).substr(colon + 1));
    }
  }
  if (value) *value = trim(*value);
  return value;
}

std::vector<MaildirEntry> find_by_subject(const fs::path& maildir, std::string_view subject) {
  std::vector<MaildirEntry> found;
  for (auto& entry : list_maildir(maildir)) {
    if (header_field(entry.path, "Subject") == std::optional<std::string>(subject)) found.push_back(std::move(entry));
  }
  return found;
}

std::vector<MaildirEntry> write_fixture_maildir(const fs::path& maildir,
                                                const std::vector<FixtureMessage>& messages) {
  for (const char* subdir : {"cur", "new", "tmp"}) fs::create_directories(maildir / subdir);
  std::vector<MaildirEntry> written;
  for (std::size_t n = 0; n < messages.size(); ++n) {
    const auto& message = messages[n];
    const std::string unique = "1700000000.M" + std::to_string(n + 1) + "P1.fixture";
    const std::string name = message.in_new ? unique : unique + ":2," + message.flags;
    const std::string subdir = message.in_new ? "new" : "cur";
    // Dates a day apart, so clients sorting by date keep the fixture order.
    const std::string content = "From: Sender " + std::to_string(n + 1) + " <sender" + std::to_string(n + 1) +
                                "@popfs.test>\n"
                                "To: Alice <alice@popfs.test>\n"
                                "Subject: " + message.subject + "\n"
                                "Date: " + std::to_string(n % 28 + 1) + " Jan 2024 10:00:00 +0000\n"
                                "Message-ID: <fixture-" + std::to_string(n + 1) + "@popfs.test>\n"
                                "MIME-Version: 1.0\n"
                                "Content-Type: text/plain; charset=us-ascii\n"
                                "\n" + message.body;
    write_file(maildir / subdir / name, content);
    written.push_back(parse_maildir_name(maildir, subdir, name));
  }
  return written;
}

}  // namespace popfs::test
