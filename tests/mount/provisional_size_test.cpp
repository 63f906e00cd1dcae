// st_size while it is still a LIST size (doc/SEMANTICS.md, st_size), on real mounts of the
// fake server, whose LIST sizes can be wrong (Dovecot's never are). The kernel may keep a LIST
// size for a moment (so `ls -l` costs no GETATTR per file); once popfs knows the exact size,
// no program reads by the old one or stats it.

#include <sys/stat.h>

#include <future>

#include "mount_fixture.hpp"
#include "popfs/util/uidl_name.hpp"
#include "popfs_test/fake_pop3_server.hpp"

namespace popfs::test {
namespace {

// Messages whose LIST size is 40 bytes short: a page-cache read by it would cut them.
std::vector<FakeMessage> short_listed_mailbox() {
  std::vector<FakeMessage> mailbox;
  for (const std::string uidl : {"a", "b", "c"}) {
    std::string content = "Subject: " + uidl + "\r\nDate: Mon, 2 Jan 2006 15:04:05 -0700\r\n\r\n";
    for (int line = 0; line < 50; ++line) content += "line " + std::to_string(line) + " of " + uidl + "\r\n";
    mailbox.push_back(FakeMessage{uidl, content, content.size() - 40});
  }
  return mailbox;
}

class ProvisionalSizeMountTest : public MountTest {
 protected:
  void SetUp() override {
    FakePop3Options options;
    options.tls = FakeTls::implicit;
    options.mailbox = mailbox_;
    server_ = std::make_unique<FakePop3Server>(options);
    auto fs_options = default_options();
    fs_options.prefetch_stubs = false;  // nothing is fetched unless this test asks
    mount_ = std::make_unique<Mount>(
        mount_account(server_->host(), server_->port(), options.user, options.password, server_->ca_file()),
        work_.path() / "cache", mp(), fs_options);
  }
  void TearDown() override {
    MountTest::TearDown();
    server_.reset();
  }
  std::filesystem::path file(const std::string& uidl) const { return mp() / message_file_name(uidl); }
  struct stat stat_of(const std::string& uidl) const {
    struct stat st{};
    EXPECT_EQ(::stat(file(uidl).c_str(), &st), 0) << uidl;
    return st;
  }
  const FakeMessage& message(const std::string& uidl) const {
    for (const auto& m : mailbox_) {
      if (m.uidl == uidl) return m;
    }
    throw std::runtime_error("no message " + uidl);
  }

  std::vector<FakeMessage> mailbox_ = short_listed_mailbox();
  std::unique_ptr<FakePop3Server> server_;
};

TEST_F(ProvisionalSizeMountTest, StatRightAfterTheReadThatFetchedTheMessageIsExact) {
  const auto& a = message("a");
  EXPECT_EQ(static_cast<std::size_t>(stat_of("a").st_size), *a.list_size);  // provisional, now cached
  EXPECT_TRUE(slurp(file("a")) == a.content);
  EXPECT_EQ(static_cast<std::size_t>(stat_of("a").st_size), a.content.size());
}

// The kernel holds b's LIST size when popfs learns b's exact size by itself (as read-ahead
// does): a page-cache reader opening b next must get all of it, and stat must say so.
TEST_F(ProvisionalSizeMountTest, ASizeLearntWhileTheKernelHeldTheListSizeCutsNoReader) {
  for (const std::string uidl : {"b", "c"}) {
    const auto& m = message(uidl);
    const struct stat before = stat_of(uidl);
    ASSERT_EQ(static_cast<std::size_t>(before.st_size), *m.list_size);
    auto fetched = std::make_shared<std::promise<Result<std::string>>>();
    mount_->filesystem().read(before.st_ino, 0, 1 << 20,
                              [fetched](Result<std::string> r) { fetched->set_value(std::move(r)); });
    const auto body = fetched->get_future().get();
    ASSERT_TRUE(body.ok()) << body.error().describe();
    ASSERT_EQ(*body, m.content);
    if (uidl == "b") {
      EXPECT_TRUE(slurp(file(uidl)) == m.content) << "a reader was cut at the stale LIST size";
      EXPECT_EQ(static_cast<std::size_t>(stat_of(uidl).st_size), m.content.size());
    } else {
      EXPECT_EQ(static_cast<std::size_t>(stat_of(uidl).st_size), m.content.size()) << "stat gave the stale LIST size";
      auto tar = shell("cd " + shell_quote(mp().string()) + " && tar cf - " +
                       shell_quote(message_file_name(uidl)) + " | tar xOf -");
      EXPECT_EQ(tar.exit_code, 0) << tar.output;
      EXPECT_TRUE(tar.output == m.content) << "tar archived " << tar.output.size() << " bytes";
    }
  }
}

}  // namespace
}  // namespace popfs::test
