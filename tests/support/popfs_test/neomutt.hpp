#pragma once
// The real NeoMutt, driven non-interactively on a Maildir (any directory: a plain one or a
// popfs mount). Each run gets its own work dir (HOME, muttrc, debug log, optional header
// cache), its own pseudo-terminal and a deadline.
//
// Keys are queued with NeoMutt's `push` and run once the mailbox is open. What NeoMutt saw
// is read from NeoMutt itself, not from the screen: the status bar format ends in '|', so
// NeoMutt runs a small script with the expanded counts at every redraw of the index, and
// that script appends them to a file (NeoMuttRun::statuses). What it told the user
// (messages, errors) comes from its debug log (`-d 1 -l FILE`).
//
//   auto run = run_neomutt(dir, {.keys = neomutt_mark_read_keys("bravo")});
//   ASSERT_TRUE(run.ok()) << run.describe();
//   EXPECT_EQ(run.last_status().unread, 2u);

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popfs::test {

struct NeoMuttOptions {
  // Keys pushed once the mailbox is open: functions as "<name>" and literal characters, no
  // single quote. They must end the session: "<quit>" (writes pending changes, applies
  // $mark_old, then leaves) or "<exit>" (leaves without writing); otherwise the run ends
  // at the timeout.
  std::string keys = "<exit>";
  // Lines appended to the generated muttrc (after the harness's settings, so they win),
  // e.g. "set maildir_trash=yes".
  std::vector<std::string> muttrc_extra{};
  // false: no header cache (NeoMutt reads every message's header at every open).
  // true: a header cache file in the work dir, reused by later runs with the same work dir.
  bool header_cache = false;
  // Where HOME, the muttrc, the logs and the header cache live. Empty: a fresh temporary
  // dir per run, removed afterwards. Given: created if needed and kept (by the caller).
  std::filesystem::path work_dir{};
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // Added to NeoMutt's environment (replacing a variable of the same name), e.g. LD_PRELOAD.
  std::vector<std::string> extra_env{};
  std::string binary = "neomutt";
};

// One redraw of the index's status bar: NeoMutt's own counts for the open mailbox.
struct NeoMuttStatus {
  std::size_t messages = 0;      // %m: every message in the mailbox
  std::size_t new_messages = 0;  // %n: new (unread, in new/ or not yet seen)
  std::size_t unread = 0;        // %u: unread (new and old)
  std::size_t old_unread = 0;    // %o: old unread
  std::size_t deleted = 0;       // %d: marked for deletion
  std::size_t flagged = 0;       // %F
  std::size_t tagged = 0;        // %t
  std::string folder{};          // %f: the mailbox path
  std::chrono::system_clock::time_point drawn_at{};
};

struct NeoMuttRun {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string terminal{};                 // every byte NeoMutt wrote to its terminal
  std::vector<NeoMuttStatus> statuses{};  // every redraw of the index, in order
  std::vector<std::string> messages{};    // what it told the user (debug log <M> <W> <E> <P>)
  std::vector<std::string> errors{};      // the errors among them (<E> and <P>: perror)
  std::string muttrc{};                   // the configuration it ran with
  std::chrono::system_clock::time_point started_at{};
  std::chrono::steady_clock::duration elapsed{};

  bool ok() const { return exit_code == 0 && !timed_out; }
  // The last status drawn; throws std::runtime_error if the index was never shown.
  const NeoMuttStatus& last_status() const;
  // From the start of NeoMutt to the first drawing of the index; nullopt if never shown.
  std::optional<std::chrono::duration<double>> index_shown_after() const;
  // How much a count grew at its highest, over its first value (0 without statuses), e.g.
  // how many messages a <tag-pattern> tagged.
  std::size_t largest_rise(std::size_t NeoMuttStatus::*count) const;
  // Exit, last status, errors, muttrc and the end of the screen text, for failure messages.
  std::string describe() const;
};

// Runs NeoMutt on the Maildir `maildir` (neomutt -n -F MUTTRC -d 1 -l LOG -f MAILDIR).
// Throws std::runtime_error when it cannot be started, never because of what NeoMutt did.
NeoMuttRun run_neomutt(const std::filesystem::path& maildir, const NeoMuttOptions& options = {});

// A pattern matching the messages whose Subject contains `subject` (a literal substring:
// =s "..."). Throws std::invalid_argument for characters the keys cannot carry: quotes,
// backslash, '<', '>', control characters and non-ASCII.
std::string neomutt_subject_pattern(std::string_view subject);

// Keys (each leaves with <exit>, so nothing else is written, $mark_old included):
// tag what `pattern` matches, then leave (NeoMuttRun::largest_rise(&NeoMuttStatus::tagged)
// tells how many matched);
std::string neomutt_count_keys(std::string_view pattern);
// mark the messages with that subject read, write the change (<sync-mailbox>), leave;
std::string neomutt_mark_read_keys(std::string_view subject);
// mark them new (unread) again, write, leave: NeoMutt moves them back to new/;
std::string neomutt_mark_new_keys(std::string_view subject);
// flag them (F), write, leave;
std::string neomutt_flag_keys(std::string_view subject);
// delete them, write (unlink, or the T flag with $maildir_trash), leave.
std::string neomutt_delete_keys(std::string_view subject);

// One NeoMutt session each. They throw std::runtime_error (with describe()) unless NeoMutt
// ran to its end and, for the ones given a subject, exactly one message matched; a refused
// change (an error NeoMutt reported) is not thrown: look at NeoMuttRun::errors.
std::size_t neomutt_count_messages(const std::filesystem::path& maildir, const NeoMuttOptions& options = {});
// Messages matching a NeoMutt pattern, e.g. neomutt_subject_pattern("a") + " ~R" (read).
std::size_t neomutt_count_matching(const std::filesystem::path& maildir, std::string_view pattern,
                                   const NeoMuttOptions& options = {});
NeoMuttRun neomutt_mark_read(const std::filesystem::path& maildir, std::string_view subject,
                             const NeoMuttOptions& options = {});
NeoMuttRun neomutt_delete(const std::filesystem::path& maildir, std::string_view subject,
                          const NeoMuttOptions& options = {});

}  // namespace popfs::test
