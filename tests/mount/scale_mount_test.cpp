// A 20,000-message mailbox through a real mount of a private Dovecot (issue 9): every name,
// every size, a sample of the bytes, and inode numbers stable across a remount.

#include <sys/stat.h>

#include <dirent.h>

#include <map>

#include "mount_fixture.hpp"
#include "popfs_test/corpus.hpp"
#include "popfs_test/scale_mailbox.hpp"

namespace popfs::test {
namespace {

constexpr std::size_t kMessages = 20000;
constexpr std::uint64_t kSeed = 7;

// Names and inode numbers of a directory, in readdir order (not sorted: server order).
std::vector<std::pair<std::string, ino_t>> read_names(const std::filesystem::path& dir) {
  std::vector<std::pair<std::string, ino_t>> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name == ".headers") continue;
    out.emplace_back(name, e->d_ino);
  }
  ::closedir(d);
  return out;
}

class ScaleMountTest : public MountTest {
 protected:
  void SetUp() override {
    write_scale_maildir(maildir_.path(), kSeed, kMessages);
    DovecotOptions options;
    options.existing_maildir = maildir_.path();
    dovecot_ = std::make_unique<Dovecot>(options);
  }
  TempDir maildir_{"popfs-scale-maildir-"};
};

TEST_F(ScaleMountTest, TwentyThousandMessagesNamesSizesBytesAndStableInodes) {
  const auto uidls = dovecot_->uidls();
  ASSERT_EQ(uidls.size(), kMessages);
  auto options = default_options();
  mount(options);
  const auto listed = read_names(mp());
  ASSERT_EQ(listed.size(), kMessages);
  std::map<std::string, ino_t> inodes;
  for (std::size_t i = 0; i < kMessages; ++i) {
    ASSERT_EQ(listed[i].first, uidls[i] + ".eml") << "server order, at " << i;
    inodes[listed[i].first] = listed[i].second;
  }
  // Every size is the message's size on the wire (Dovecot's LIST sizes are exact CRLF sizes),
  // and stat agrees with readdir on the inode.
  for (std::size_t i = 0; i < kMessages; ++i) {
    struct stat st {};
    const auto path = mp() / listed[i].first;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    ASSERT_EQ(static_cast<std::size_t>(st.st_size), scale_message_sizes(kSeed, i).crlf) << listed[i].first;
    ASSERT_EQ(st.st_ino, listed[i].second) << listed[i].first;
  }
  // A sample of the bytes, spread over the mailbox: what the server holds, CRLF, unstuffed.
  for (std::size_t i = 0; i < kMessages; i += 997) {
    const auto m = scale_message(kSeed, i);
    const std::string expected = to_crlf(m.header + "\n" + m.body);
    ASSERT_EQ(slurp(mp() / listed[i].first), expected) << listed[i].first;
  }
  unmount();

  mount(options);
  const auto again = read_names(mp());
  ASSERT_EQ(again.size(), kMessages);
  for (const auto& [name, ino] : again) ASSERT_EQ(inodes.at(name), ino) << "inode of " << name << " changed";
  struct stat st {};
  ASSERT_EQ(::stat((mp() / listed[0].first).c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, listed[0].second);
}

}  // namespace
}  // namespace popfs::test
