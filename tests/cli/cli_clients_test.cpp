// Real mail clients on real popfs mounts of the private Dovecot (issue 10): NeoMutt and
// notmuch on `popfs mount -o layout=maildir`, MIME parts under .parts/ against Python's
// email package, and what the Maildir layout refuses. Every mount is made by the real popfs
// binary, unmounted with `popfs umount`, and undone by a MountGuard if a test fails. Each
// outcome is read back from the mount, from a new mount, or from Dovecot itself (Python's
// poplib), never from what popfs says about itself.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/dovecot.hpp"
#include "popfs_test/independent_client.hpp"
#include "popfs_test/maildir.hpp"
#include "popfs_test/neomutt.hpp"
#include "popfs_test/notmuch.hpp"
#include "popfs_test/process.hpp"

#ifndef POPFS_MIME_SCRIPT
#error "POPFS_MIME_SCRIPT must be set by CMake"
#endif

namespace popfs::test::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kGenerated = 20;
const std::vector<std::string> kSubjects = {"e2e alpha", "e2e bravo", "e2e charlie", "e2e delta"};

std::string message_with_subject(const std::string& subject, std::size_t n) {
  return "From: Sender " + std::to_string(n) + " <sender" + std::to_string(n) +
         "@example.org>\nTo: popfs-test@example.org\nDate: Tue, 3 Dec 2024 10:0" + std::to_string(n) +
         ":00 +0000\nMessage-ID: <e2e-" + std::to_string(n) + "@popfs.test>\nSubject: " + subject +
         "\n\nThe body of " + subject + ".\n";
}

// The independent client's message with this Subject (exactly one).
IndependentMessage by_subject(const std::vector<IndependentMessage>& messages, const std::string& subject) {
  std::vector<IndependentMessage> found;
  for (const auto& m : messages) {
    const auto head = m.content.substr(0, m.content.find("\r\n\r\n") + 2);
    if (head.find("\r\nSubject: " + subject + "\r\n") != std::string::npos) found.push_back(m);
  }
  if (found.size() != 1) {
    ADD_FAILURE() << found.size() << " messages on the server have the subject " << subject;
    return {};
  }
  return found.front();
}

std::vector<std::string> without(std::vector<std::string> all, const std::string& gone) {
  std::erase(all, gone);
  return all;
}

std::string describe(const std::vector<MaildirEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += "  " + e.subdir + "/" + e.file_name() + "\n";
  return out;
}

class CliClients : public ::testing::Test {
 protected:
  explicit CliClients(CorpusOptions corpus = {.count = kGenerated, .seed = 23})
      : dovecot({.corpus = generate_corpus(corpus)}) {}

  CliEnvironment env;
  Dovecot dovecot;
  fs::path mountpoint = env.make_dir("mnt");
  fs::path cache_dir = env.path("cache");
  MountGuard guard{env, mountpoint};

  void deliver_known_subjects() {
    for (std::size_t i = 0; i < kSubjects.size(); ++i) dovecot.deliver(message_with_subject(kSubjects[i], i + 1));
  }

  std::string url() const {
    return "pop3s://" + dovecot.user() + "@127.0.0.1:" + std::to_string(dovecot.pop3s_port());
  }
  // popfs mount (daemon mode: returns once ready), with -o layout=maildir unless flat.
  CliResult mount(bool maildir = true) const {
    std::vector<std::string> argv = {"mount",      "--ca-file",   dovecot.ca_file(), "--password-file",
                                     dovecot.password_file().string(), "--cache-dir", cache_dir.string()};
    if (maildir) argv.insert(argv.end(), {"-o", "layout=maildir"});
    argv.push_back(url());
    argv.push_back(mountpoint.string());
    return env.run(argv, 90s);
  }
  void mount_or_fail(bool maildir = true) {
    const auto r = mount(maildir);
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    ASSERT_TRUE(is_mounted(mountpoint));
  }
  // popfs umount, then: the mount is gone and so is the daemon (its cache is free).
  void umount() {
    const auto r = env.run({"umount", mountpoint.string()}, 90s);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_FALSE(is_mounted(mountpoint));
    EXPECT_TRUE(wait_until([&] { return processes_mentioning(mountpoint.string()).empty(); }, 60s))
        << "the daemon is still running after popfs umount";
  }
  void remount() {
    umount();
    mount_or_fail();
  }

  // The Maildir entry of the one message with this subject, as the mount shows it now.
  MaildirEntry entry_of(const std::string& subject) const {
    const auto found = find_by_subject(mountpoint, subject);
    if (found.size() != 1) {
      ADD_FAILURE() << found.size() << " files with subject " << subject << " in\n" << describe(list_maildir(mountpoint));
      return {};
    }
    return found.front();
  }

  // Every entry but the one with this unique part.
  static std::vector<MaildirEntry> others(const std::vector<MaildirEntry>& entries, const std::string& unique) {
    std::vector<MaildirEntry> rest;
    for (const auto& e : entries) {
      if (e.unique != unique) rest.push_back(e);
    }
    return rest;
  }

  // Dovecot logs a session at logout; after popfs umount every session of the mount has
  // ended, so wait until each login has its logout line.
  std::vector<SessionCounts> ended_sessions() const {
    EXPECT_TRUE(wait_until([&] { return dovecot.sessions().size() >= dovecot.logins(); }, 10s))
        << "Dovecot did not log every session's end:\n" << dovecot.log();
    return dovecot.sessions();
  }

  void TearDown() override {
    const std::string leftovers = guard.cleanup();
    EXPECT_FALSE(is_mounted(mountpoint)) << leftovers;
    if (!HasFailure()) {
      EXPECT_TRUE(leftovers.empty()) << "a passing test left this behind: " << leftovers;
    }
  }
};

// ---- NeoMutt ---------------------------------------------------------------------------

class NeoMuttOnMount : public CliClients {
 protected:
  void SetUp() override {
    deliver_known_subjects();
    uidls = dovecot.uidls();
    ASSERT_EQ(uidls.size(), kGenerated + kSubjects.size());
    ASSERT_NO_FATAL_FAILURE(mount_or_fail());
  }
  std::vector<std::string> uidls;
};

TEST_F(NeoMuttOnMount, OpensTheMailboxAndCountsExactlyWhatDovecotHas) {
  const auto before = list_maildir(mountpoint);
  ASSERT_EQ(before.size(), uidls.size()) << describe(before);
  std::set<std::string> uniques;
  for (const auto& e : before) {
    EXPECT_EQ(e.subdir, "new") << e.file_name() << ": a first mount has every message in new/";
    EXPECT_EQ(e.flags, std::nullopt) << e.file_name();
    uniques.insert(e.unique);
  }
  std::set<std::string> expected;
  for (const auto& uidl : uidls) expected.insert(uidl + ".eml");  // Dovecot's UIDLs need no escaping
  EXPECT_EQ(uniques, expected);

  const auto run = run_neomutt(mountpoint);
  ASSERT_TRUE(run.ok()) << run.describe();
  const auto& status = run.last_status();
  EXPECT_EQ(status.messages, uidls.size());
  EXPECT_EQ(status.new_messages, uidls.size());
  EXPECT_EQ(status.folder, mountpoint.string());
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  EXPECT_EQ(list_maildir(mountpoint), before) << "opening and <exit> changed the mount";
  umount();
}

TEST_F(NeoMuttOnMount, MarkingOneReadMovesItToCurWithSAndTheFlagSurvivesARemount) {
  const auto before = list_maildir(mountpoint);
  const auto bravo = entry_of("e2e bravo");
  ASSERT_EQ(bravo.subdir, "new");
  const auto content = read_file(bravo.path);

  const auto run = neomutt_mark_read(mountpoint, "e2e bravo");
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  EXPECT_EQ(run.last_status().unread, uidls.size() - 1);
  const auto moved = entry_of("e2e bravo");
  EXPECT_EQ(moved.subdir, "cur");
  EXPECT_EQ(moved.unique, bravo.unique);
  EXPECT_EQ(moved.flags, std::optional<std::string>("S"));
  EXPECT_EQ(read_file(moved.path), content) << "the renamed file is the same message";
  const auto after = list_maildir(mountpoint);
  EXPECT_EQ(others(after, bravo.unique), others(before, bravo.unique)) << "another file changed:\n" << describe(after);

  ASSERT_NO_FATAL_FAILURE(remount());
  const auto remounted = list_maildir(mountpoint);
  EXPECT_EQ(remounted, after) << "the names changed across the remount:\n" << describe(remounted);
  EXPECT_EQ(entry_of("e2e bravo").path, moved.path);
  // A new NeoMutt reads the flag back from the file name.
  EXPECT_EQ(neomutt_count_matching(mountpoint, neomutt_subject_pattern("e2e bravo") + " ~R"), 1u);
  EXPECT_EQ(neomutt_count_matching(mountpoint, "~U"), uidls.size() - 1);
  umount();
}

TEST_F(NeoMuttOnMount, DeletingOneAndSyncingDeletesExactlyThatMessageOnTheServer) {
  const auto charlie = by_subject(fetch_all_independently(dovecot), "e2e charlie");
  ASSERT_FALSE(charlie.uidl.empty());
  const auto before = list_maildir(mountpoint);
  const auto entry = entry_of("e2e charlie");
  EXPECT_EQ(entry.unique, charlie.uidl + ".eml");

  const auto run = neomutt_delete(mountpoint, "e2e charlie");
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  EXPECT_EQ(run.last_status().messages, uidls.size() - 1);
  EXPECT_FALSE(fs::exists(entry.path));
  EXPECT_EQ(list_maildir(mountpoint), others(before, entry.unique));

  umount();
  // No waiting: popfs umount returns once the deletion is committed.
  EXPECT_EQ(dovecot.uidls(), without(uidls, charlie.uidl));
}

TEST_F(NeoMuttOnMount, QuitWithMarkOldMovesEveryMessageFromNewToCur) {
  NeoMuttOptions options;
  options.keys = "<quit>";  // $mark_old is on by default
  const auto run = run_neomutt(mountpoint, options);
  ASSERT_TRUE(run.ok()) << "NeoMutt did not leave normally\n" << run.describe();
  EXPECT_TRUE(run.errors.empty()) << run.describe();
  auto check = [&](const std::vector<MaildirEntry>& entries) {
    EXPECT_EQ(entries.size(), uidls.size());
    for (const auto& e : entries) {
      EXPECT_EQ(e.subdir, "cur") << e.file_name();
      EXPECT_EQ(e.flags, std::optional<std::string>("")) << e.file_name();
    }
  };
  check(list_maildir(mountpoint));
  ASSERT_NO_FATAL_FAILURE(remount());
  check(list_maildir(mountpoint));
  // Old, unread: NeoMutt sees none as new any more.
  const auto again = run_neomutt(mountpoint);
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_EQ(again.last_status().messages, uidls.size());
  EXPECT_EQ(again.last_status().new_messages, 0u);
  EXPECT_EQ(again.last_status().old_unread, uidls.size());
  umount();
}

// ---- notmuch ---------------------------------------------------------------------------

std::vector<fs::path> paths_of(const std::vector<MaildirEntry>& entries) {
  std::vector<fs::path> paths;
  for (const auto& e : entries) paths.push_back(e.path);
  std::sort(paths.begin(), paths.end());
  return paths;
}

// st_mtime of new/ and cur/.
std::vector<std::int64_t> directory_mtimes(const fs::path& maildir) {
  std::vector<std::int64_t> mtimes;
  for (const char* sub : {"new", "cur"}) {
    struct stat st {};
    EXPECT_EQ(::stat((maildir / sub).c_str(), &st), 0) << sub << ": " << std::strerror(errno);
    mtimes.push_back(static_cast<std::int64_t>(st.st_mtime));
  }
  return mtimes;
}

TEST_F(CliClients, NotmuchIndexesTheMountFindsBySubjectAndSeesNoChangeAfterARemount) {
  deliver_known_subjects();
  const auto uidls = dovecot.uidls();
  ASSERT_EQ(uidls.size(), kGenerated + kSubjects.size());
  ASSERT_NO_FATAL_FAILURE(mount_or_fail());
  const NotmuchOptions options{.work_dir = env.path("notmuch"), .ignore = {".headers", ".parts"}};
  {
    Notmuch notmuch(mountpoint, options);
    const auto indexed = notmuch.index();
    ASSERT_EQ(indexed.exit_code, 0) << indexed.output;
    EXPECT_EQ(indexed.added, uidls.size()) << indexed.output;
    EXPECT_EQ(notmuch.count(), uidls.size());
    EXPECT_EQ(notmuch.count_files(), uidls.size()) << ".headers/ must not be indexed";
    EXPECT_EQ(notmuch.search_files("*"), paths_of(list_maildir(mountpoint)));
    const auto delta = entry_of("e2e delta");
    EXPECT_EQ(notmuch.search_files("subject:\"e2e delta\""), std::vector<fs::path>{delta.path});

    // A flag change through notmuch (a rename new/X -> cur/X:2,S on the mount), so the
    // remount below has a flag to keep.
    const auto tagged = notmuch.run({"tag", "-unread", "--", "subject:\"e2e delta\""});
    ASSERT_EQ(tagged.exit_code, 0) << tagged.output;
    const auto moved = entry_of("e2e delta");
    EXPECT_EQ(moved.subdir, "cur");
    EXPECT_EQ(moved.flags, std::optional<std::string>("S"));
    EXPECT_EQ(notmuch.search_files("subject:\"e2e delta\""), std::vector<fs::path>{moved.path});
  }
  const auto before = list_maildir(mountpoint);
  const auto mtimes_before = directory_mtimes(mountpoint);
  ASSERT_NO_FATAL_FAILURE(remount());
  // The names themselves (notmuch does not look into a directory whose mtime it knows), and
  // the mtimes (a new one would make notmuch read the directories again).
  EXPECT_EQ(list_maildir(mountpoint), before) << describe(list_maildir(mountpoint));
  EXPECT_EQ(directory_mtimes(mountpoint), mtimes_before);

  Notmuch notmuch(mountpoint, options);  // the same database
  const auto again = notmuch.index();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.added, 0u) << again.output;
  EXPECT_EQ(again.removed, 0u) << again.output;
  EXPECT_EQ(again.renamed, 0u) << again.output;
  EXPECT_NE(again.output.find("No new mail"), std::string::npos) << again.output;
  EXPECT_EQ(notmuch.count(), uidls.size());
  EXPECT_EQ(notmuch.search_files("*"), paths_of(list_maildir(mountpoint)));
  const auto delta_tags = notmuch.tags("subject:\"e2e delta\"");
  EXPECT_EQ(std::count(delta_tags.begin(), delta_tags.end(), "unread"), 0) << "the S flag was lost";
  umount();
}

// ---- MIME parts ------------------------------------------------------------------------

struct PythonPart {
  std::string path;  // IMAP section number
  std::optional<std::string> filename;
  std::string bytes;
};

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

// What independent_mime.py decode wrote for DIR/<stem>.eml.
std::vector<PythonPart> python_parts(const fs::path& dir, const std::string& stem) {
  std::vector<PythonPart> parts;
  std::ifstream manifest(dir / (stem + ".parts"));
  std::string line;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string path, hexname, type, bytes_file;
    std::getline(fields, path, '\t');
    std::getline(fields, hexname, '\t');
    std::getline(fields, type, '\t');
    std::getline(fields, bytes_file, '\t');
    PythonPart part;
    part.path = path;
    if (hexname != "-") part.filename = from_hex(hexname);
    part.bytes = read_file(dir / bytes_file);
    parts.push_back(std::move(part));
  }
  return parts;
}

// doc/SEMANTICS.md's sanitising, for the valid UTF-8 names of this corpus: '/', control
// characters (C0, DEL, C1) -> '_', spaces trimmed, each leading '.' -> '_'.
std::string sanitised(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xA0;
    if (c == '/' || c < 0x20 || c == 0x7F) {
      out += '_';
    } else if (c1) {
      out += '_';
      ++i;
    } else {
      out += name[i];
    }
  }
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  out = out.substr(first, out.find_last_not_of(' ') - first + 1);
  for (std::size_t i = 0; i < out.size() && out[i] == '.'; ++i) out[i] = '_';
  return out;
}

struct MountedPart {
  fs::path relative;  // below .parts/<name>/
  std::uintmax_t st_size = 0;
  std::string bytes;
};

// Every leaf part file under a message's folder, recursively, without the raw `<folder>.eml`
// of each forwarded message (it sits beside the folder of the same name).
std::vector<MountedPart> mounted_parts(const fs::path& folder) {
  std::vector<MountedPart> parts;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const auto file = entry.path();
    if (file.extension() == ".eml" && fs::is_directory(file.parent_path() / file.stem())) continue;
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0) << file << ": " << std::strerror(errno);
    parts.push_back(MountedPart{fs::relative(file, folder), static_cast<std::uintmax_t>(st.st_size), read_file(file)});
  }
  return parts;
}

std::size_t depth_of(const std::string& section) { return static_cast<std::size_t>(std::count(section.begin(), section.end(), '.')); }

class PartsOnMount : public CliClients {
 protected:
  // The independent_mime.py corpus (attachments, nested multiparts, forwarded messages),
  // delivered after the generated messages.
  void deliver_mime_corpus() {
    const fs::path generated = env.make_dir("mime-generated");
    const auto r = run_command({"python3", POPFS_MIME_SCRIPT, "generate", generated.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(generated)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 5u);
    for (const auto& file : files) {
      std::string text = read_file(file);
      std::string lf;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) lf += text[i];
      }
      dovecot.deliver(lf);  // a Maildir stores LF; RETR gives CRLF
    }
    mime_messages = files.size();
  }
  std::size_t mime_messages = 0;
};

TEST_F(PartsOnMount, EveryPartIsWhatPythonsEmailPackageDecodesAndIsCachedAcrossARemount) {
  ASSERT_NO_FATAL_FAILURE(deliver_mime_corpus());
  // The server's bytes, by an independent client, decoded by Python's email package.
  const auto messages = fetch_all_independently(dovecot);
  ASSERT_EQ(messages.size(), kGenerated + mime_messages);
  const fs::path decoded = env.make_dir("python-decoded");
  for (const auto& m : messages) write_file(decoded / (m.uidl + ".eml"), m.content);
  const auto r = run_command({"python3", POPFS_MIME_SCRIPT, "decode", decoded.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto sessions_at_mount = ended_sessions().size();

  ASSERT_NO_FATAL_FAILURE(mount_or_fail(false));
  std::size_t named = 0;
  std::size_t leaves = 0;
  fs::path one_part;  // a named part, read again after the remount
  std::string one_part_bytes;
  for (const auto& m : messages) {
    SCOPED_TRACE("message " + m.uidl);
    const auto expected = python_parts(decoded, m.uidl);
    ASSERT_FALSE(expected.empty());
    const fs::path folder = mountpoint / ".parts" / m.uidl;
    const auto got = mounted_parts(folder);
    // The same decoded contents, as many times each.
    std::multiset<std::string> expected_bytes, got_bytes;
    for (const auto& p : expected) expected_bytes.insert(p.bytes);
    for (const auto& p : got) got_bytes.insert(p.bytes);
    EXPECT_TRUE(got_bytes == expected_bytes) << got.size() << " part files, Python decodes " << expected.size();
    for (const auto& p : got) {
      EXPECT_EQ(p.st_size, p.bytes.size()) << p.relative << ": st_size is not the part's size";
    }
    // A part with a file name is a file of that (sanitised) name, at its depth, with its bytes.
    for (const auto& p : expected) {
      if (!p.filename) continue;
      ++named;
      const std::string name = sanitised(*p.filename);
      const auto match = std::find_if(got.begin(), got.end(), [&](const MountedPart& g) {
        return g.relative.filename() == name && static_cast<std::size_t>(std::distance(g.relative.begin(), g.relative.end())) ==
                                                    depth_of(p.path) + 1 && g.bytes == p.bytes;
      });
      EXPECT_NE(match, got.end()) << "part " << p.path << " \"" << name << "\" (" << p.bytes.size()
                                  << " bytes) is not a file of that name with those bytes";
      if (match != got.end() && one_part.empty() && p.bytes.size() > 10000) {
        one_part = folder / match->relative;
        one_part_bytes = p.bytes;
      }
    }
    leaves += expected.size();
  }
  EXPECT_GE(named, 10u) << "the corpus lost its named attachments";
  EXPECT_GE(leaves, messages.size() + 10u);
  ASSERT_FALSE(one_part.empty());
  umount();
  // Each message was downloaded once, for all its parts.
  const auto first_mount = ended_sessions();
  std::size_t retr = 0;
  for (std::size_t i = sessions_at_mount; i < first_mount.size(); ++i) retr += first_mount[i].retr;
  EXPECT_EQ(retr, messages.size());

  // After a remount a part is read from the cache: no RETR at all.
  const auto sessions_before = first_mount.size();
  ASSERT_NO_FATAL_FAILURE(mount_or_fail(false));
  struct stat st {};
  ASSERT_EQ(::stat(one_part.c_str(), &st), 0) << one_part << ": " << std::strerror(errno);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), one_part_bytes.size());
  EXPECT_TRUE(read_file(one_part) == one_part_bytes) << one_part;
  umount();
  const auto after = ended_sessions();
  ASSERT_GT(after.size(), sessions_before) << "the remount did not log in";
  std::size_t retr_after = 0;
  for (std::size_t i = sessions_before; i < after.size(); ++i) retr_after += after[i].retr;
  EXPECT_EQ(retr_after, 0u) << "a part read after the remount was downloaded again";
}

// ---- refused operations ----------------------------------------------------------------

TEST_F(CliClients, CreatingInTmpAndRenamingAMessageToAnotherNameFailWithErofsAndChangeNothing) {
  deliver_known_subjects();
  ASSERT_NO_FATAL_FAILURE(mount_or_fail());
  EXPECT_TRUE(fs::is_empty(mountpoint / "tmp"));

  const auto touch = env.run_program({"touch", (mountpoint / "tmp" / "delivery").string()});
  EXPECT_NE(touch.exit_code, 0) << touch.describe();
  EXPECT_TRUE(contains_nocase(touch.err, std::strerror(EROFS))) << touch.describe();
  const int fd = ::open((mountpoint / "tmp" / "delivery2").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  const int create_errno = errno;
  if (fd >= 0) ::close(fd);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(create_errno, EROFS) << std::strerror(create_errno);
  EXPECT_TRUE(fs::is_empty(mountpoint / "tmp"));

  // An allowed move first (mark read), then renames that change the name.
  const auto alpha = entry_of("e2e alpha");
  const auto read = env.run_program({"mv", alpha.path.string(), (mountpoint / "cur" / (alpha.unique + ":2,S")).string()});
  ASSERT_EQ(read.exit_code, 0) << "mv new/X cur/X:2,S must work\n" << read.describe();
  const auto before = list_maildir(mountpoint);
  const auto moved = entry_of("e2e alpha");
  ASSERT_EQ(moved.subdir, "cur");

  const auto other = mountpoint / "cur" / "another-name:2,S";
  const auto mv = env.run_program({"mv", moved.path.string(), other.string()});
  EXPECT_NE(mv.exit_code, 0) << mv.describe();
  EXPECT_TRUE(contains_nocase(mv.err, std::strerror(EROFS))) << mv.describe();
  EXPECT_EQ(::rename(moved.path.c_str(), other.c_str()), -1);
  EXPECT_EQ(errno, EROFS) << std::strerror(errno);
  // Same unique part plus something: still another name.
  const auto longer = mountpoint / "cur" / (moved.unique + "x:2,S");
  EXPECT_EQ(::rename(moved.path.c_str(), longer.c_str()), -1);
  EXPECT_EQ(errno, EROFS) << std::strerror(errno);
  // Into tmp/ and out of the Maildir folders.
  EXPECT_EQ(::rename(moved.path.c_str(), (mountpoint / "tmp" / moved.unique).c_str()), -1);
  EXPECT_EQ(errno, EROFS) << std::strerror(errno);

  EXPECT_EQ(list_maildir(mountpoint), before) << describe(list_maildir(mountpoint));
  EXPECT_FALSE(fs::exists(other));
  EXPECT_TRUE(fs::is_empty(mountpoint / "tmp"));
  ASSERT_NO_FATAL_FAILURE(remount());
  EXPECT_EQ(list_maildir(mountpoint), before) << "after a remount:\n" << describe(list_maildir(mountpoint));
  umount();
}

}  // namespace
}  // namespace popfs::test::cli
