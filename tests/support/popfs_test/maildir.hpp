#pragma once
// Plain Maildirs for the mail client tests: writing a small fixture with known subjects,
// and reading back what is in cur/ and new/ (file names split into unique part and flags),
// so a test can check what a client renamed or removed. Works on any directory, a popfs
// mount included (reading a Subject reads only the message's header block).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popfs::test {

// One message file in cur/ or new/.
struct MaildirEntry {
  std::string subdir{};                // "cur" or "new"
  std::string unique{};                // the name before ":2,"
  std::optional<std::string> flags{};  // the letters after ":2,"; nullopt without an info suffix
  std::filesystem::path path{};        // the file

  std::string file_name() const { return path.filename().string(); }
  bool has_flag(char flag) const { return flags && flags->find(flag) != std::string::npos; }
  friend bool operator==(const MaildirEntry&, const MaildirEntry&) = default;
};

// Splits a file name found in `subdir` at its last ":2," (the Maildir info suffix).
MaildirEntry parse_maildir_name(const std::filesystem::path& maildir, std::string_view subdir,
                                std::string_view file_name);

// Every message file in maildir/cur and maildir/new (names starting with '.' skipped), in
// (unique, subdir) order. Throws std::runtime_error if cur/ or new/ cannot be read.
std::vector<MaildirEntry> list_maildir(const std::filesystem::path& maildir);

// The value of the first header field `name` (case-insensitive) of a message file, unfolded,
// without leading and trailing white space; nullopt when absent. Reads up to the blank line.
std::optional<std::string> header_field(const std::filesystem::path& message_file,
                                        std::string_view name);

// The entries whose Subject header is exactly `subject`.
std::vector<MaildirEntry> find_by_subject(const std::filesystem::path& maildir,
                                          std::string_view subject);

struct FixtureMessage {
  std::string subject{};
  bool in_new = true;     // new/<unique> (no info suffix), else cur/<unique>:2,<flags>
  std::string flags{};    // for cur/ only, sorted (e.g. "FS")
  std::string body = "A short text body.\n";
};

// Creates maildir/{cur,new,tmp} and writes each message (LF line endings, a From, To, Date,
// Message-ID <fixture-N@popfs.test> and the Subject) under the unique name
// "1700000000.M<N>P1.fixture". Returns the entries written, in order.
std::vector<MaildirEntry> write_fixture_maildir(const std::filesystem::path& maildir,
                                                const std::vector<FixtureMessage>& messages);

}  // namespace popfs::test
