#pragma once
// The real notmuch on a mail root (any directory: a plain Maildir or a popfs mount), with a
// private configuration, HOME and database kept outside the mail root, so notmuch writes
// nothing into it (database.path and database.mail_root are separate; notmuch >= 0.32).
//
//   Notmuch notmuch(maildir);            // a temporary work dir, removed with the object
//   ASSERT_EQ(notmuch.index().exit_code, 0);
//   EXPECT_EQ(notmuch.count("*"), 5u);
//   EXPECT_EQ(notmuch.search_files("subject:bravo").size(), 1u);

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "popfs_test/process.hpp"
#include "popfs_test/temp_dir.hpp"

namespace popfs::test {

struct NotmuchOptions {
  // HOME, the config file and the database. Empty: a temporary dir owned by the Notmuch
  // object. Given: created if needed and kept, so a later Notmuch object on the same dir
  // finds the same database (e.g. across a remount).
  std::filesystem::path work_dir{};
  // new.ignore: names notmuch must not index. popfs's header stubs (.headers/) hold the same
  // Message-IDs as the messages, so by default they are ignored.
  std::vector<std::string> ignore{".headers"};
  // maildir.synchronize_flags: tags follow the Maildir flags, and tagging renames files.
  bool synchronize_flags = true;
  std::chrono::milliseconds timeout = std::chrono::minutes(5);
  // Added to notmuch's environment (replacing a variable of the same name), e.g. LD_PRELOAD.
  std::vector<std::string> extra_env{};
  std::string binary = "notmuch";
};

// What `notmuch new` printed, read from its summary lines (informational: state is better
// checked with count() and search_files()).
struct NotmuchNewResult {
  int exit_code = -1;  // -1 when killed or timed out
  std::string output{};
  std::size_t added = 0;    // "Added N new message(s)"
  std::size_t removed = 0;  // "Removed N message(s)"
  std::size_t renamed = 0;  // "Detected N file rename(s)"
};

class Notmuch {
 public:
  explicit Notmuch(std::filesystem::path mail_root, NotmuchOptions options = {});
  ~Notmuch();
  Notmuch(const Notmuch&) = delete;
  Notmuch& operator=(const Notmuch&) = delete;

  // notmuch ARGS with this configuration: exit code (-1 on timeout) and stdout+stderr.
  CommandResult run(const std::vector<std::string>& args) const;

  // notmuch new: scans the mail root and indexes what changed.
  NotmuchNewResult index() const;
  // notmuch count QUERY: messages (or files: --output=files). Throw std::runtime_error
  // when notmuch fails.
  std::size_t count(const std::string& query = "*") const;
  std::size_t count_files(const std::string& query = "*") const;
  // notmuch search --output=files QUERY, sorted.
  std::vector<std::filesystem::path> search_files(const std::string& query) const;
  // notmuch search --output=tags QUERY, sorted.
  std::vector<std::string> tags(const std::string& query) const;

  const std::filesystem::path& mail_root() const { return mail_root_; }
  const std::filesystem::path& config_file() const { return config_; }
  const std::filesystem::path& database_dir() const { return database_; }

 private:
  std::vector<std::string> lines_of(const std::vector<std::string>& args) const;

  std::filesystem::path mail_root_;
  NotmuchOptions options_;
  std::unique_ptr<TempDir> temporary_;
  std::filesystem::path work_;
  std::filesystem::path config_;
  std::filesystem::path database_;
};

}  // namespace popfs::test
