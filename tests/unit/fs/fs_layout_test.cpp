// Core tests of the Maildir layout (layout=maildir), of .parts/ and of decoded header
// attributes. Against FakeMaildrop, with the real cache.

#include <cerrno>

#include "fs_fixture.hpp"
#include "popfs/store/cache.hpp"

namespace popfs::test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kDate = "Mon, 2 Jan 2006 15:04:05 -0700";

fs::FsOptions maildir_options() {
  fs::FsOptions o;
  o.layout = fs::Layout::maildir;
  o.prefetch_stubs = false;
  o.deletion_batch_delay = std::chrono::milliseconds(20);
  return o;
}

class MaildirTest : public FsTest {
 protected:
  std::vector<std::string> names(std::uint64_t dir) {
    std::vector<std::string> out;
    const auto entries = filesystem->read_directory(dir);
    EXPECT_TRUE(entries.ok());
    if (!entries) return out;
    for (const auto& e : *entries) {
      if (e.name != "." && e.name != "..") out.push_back(e.name);
    }
    return out;
  }
  Result<void> mv(std::uint64_t from_dir, const std::string& from, std::uint64_t to_dir, const std::string& to) {
    return filesystem->rename(from_dir, from, to_dir, to, 0, 0);
  }
};

TEST_F(MaildirTest, TheMountPointIsAMaildirWithNewMailInNew) {
  maildrop.add("a", make_message("a", kDate, 2));
  maildrop.add("b", make_message("b", kDate, 2));
  start_fs(maildir_options());
  EXPECT_THAT(names(fs::kRootInode), ElementsAre("cur", "new", "tmp", ".headers"));
  EXPECT_THAT(names(fs::kNewInode), ElementsAre("a.eml", "b.eml"));
  EXPECT_THAT(names(fs::kCurInode), IsEmpty());
  EXPECT_THAT(names(fs::kTmpInode), IsEmpty());
  EXPECT_THAT(names(fs::kHeadersInode), ElementsAre("a.eml", "b.eml"));
  EXPECT_FALSE(filesystem->lookup(fs::kRootInode, "a.eml").ok()) << "no message files in the mount point itself";
  const auto a = ino_of("a.eml", fs::kNewInode);
  EXPECT_EQ(read_whole(a).value(), make_message("a", kDate, 2));
  EXPECT_TRUE(filesystem->lookup(fs::kRootInode, ".parts").ok()) << ".parts is there, though not listed";
}

TEST_F(MaildirTest, ClientsMoveMessagesAndChangeFlagsWhichSurviveARemount) {
  maildrop.add("a", make_message("a", kDate, 2));
  maildrop.add("b", make_message("b", kDate, 2));
  start_fs(maildir_options());
  const auto a = ino_of("a.eml", fs::kNewInode);
  // What NeoMutt does to mark a message read.
  ASSERT_TRUE(mv(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,S").ok());
  EXPECT_THAT(names(fs::kNewInode), ElementsAre("b.eml"));
  EXPECT_THAT(names(fs::kCurInode), ElementsAre("a.eml:2,S"));
  EXPECT_FALSE(filesystem->lookup(fs::kNewInode, "a.eml").ok());
  EXPECT_FALSE(filesystem->lookup(fs::kCurInode, "a.eml:2,").ok()) << "only the current flags name it";
  EXPECT_EQ(ino_of("a.eml:2,S", fs::kCurInode), a) << "the same file";
  ASSERT_TRUE(mv(fs::kCurInode, "a.eml:2,S", fs::kCurInode, "a.eml:2,FS").ok());
  // Flagged while unread: it stays in new/ with a suffix; then marked new again.
  ASSERT_TRUE(mv(fs::kNewInode, "b.eml", fs::kNewInode, "b.eml:2,F").ok());
  ASSERT_TRUE(mv(fs::kNewInode, "b.eml:2,F", fs::kCurInode, "b.eml:2,FS").ok());
  ASSERT_TRUE(mv(fs::kCurInode, "b.eml:2,FS", fs::kNewInode, "b.eml").ok());
  EXPECT_EQ(cache().record(MessageId{"a", 1}).value()->mail_flags,
            store::kMailFlagInCur | store::kMailFlagHasInfo | 0x02 | 0x10);  // F, S

  filesystem->shutdown();
  settle();
  filesystem.reset();
  reopen_cache();
  start_fs(maildir_options());
  EXPECT_THAT(names(fs::kCurInode), ElementsAre("a.eml:2,FS"));
  EXPECT_THAT(names(fs::kNewInode), ElementsAre("b.eml"));
}

TEST_F(MaildirTest, EveryOtherRenameIsRefusedAndChangesNothing) {
  maildrop.add("a", make_message("a", kDate, 2));
  start_fs(maildir_options());
  const auto refused = [&](std::uint64_t from_dir, const std::string& from, std::uint64_t to_dir,
                           const std::string& to) {
    auto r = mv(from_dir, from, to_dir, to);
    return r.ok() ? 0 : r.error().to_errno();
  };
  EXPECT_EQ(refused(fs::kNewInode, "a.eml", fs::kCurInode, "other:2,S"), EROFS);
  EXPECT_EQ(refused(fs::kNewInode, "a.eml", fs::kTmpInode, "a.eml"), EROFS);
  EXPECT_EQ(refused(fs::kNewInode, "a.eml", fs::kHeadersInode, "a.eml"), EROFS);
  EXPECT_EQ(refused(fs::kHeadersInode, "a.eml", fs::kCurInode, "a.eml:2,S"), EROFS);
  EXPECT_EQ(refused(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,SF"), EINVAL) << "flags in ASCII order";
  EXPECT_EQ(refused(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,x"), EINVAL);
  EXPECT_EQ(refused(fs::kNewInode, "zzz.eml", fs::kCurInode, "zzz.eml:2,S"), ENOENT);
  auto other_user = filesystem->rename(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,S", 0, 4242);
  ASSERT_FALSE(other_user.ok());
  EXPECT_EQ(other_user.error().to_errno(), EACCES);
  EXPECT_THAT(names(fs::kNewInode), ElementsAre("a.eml"));
  EXPECT_EQ(cache().record(MessageId{"a", 1}).value()->mail_flags, 0);
}

TEST_F(MaildirTest, EveryChangeMovesTheDirectoriesMtimeEvenWithinASecond) {
  maildrop.add("a", make_message("a", kDate, 2));
  auto o = maildir_options();
  o.read_only = true;  // flags are local: renames are allowed with -o ro, unlink is not
  start_fs(o);
  const auto before = filesystem->getattr(fs::kCurInode).value();
  ASSERT_TRUE(mv(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,S").ok());
  const auto after_one = filesystem->getattr(fs::kCurInode).value();
  ASSERT_TRUE(mv(fs::kCurInode, "a.eml:2,S", fs::kCurInode, "a.eml:2,FS").ok());
  const auto after_two = filesystem->getattr(fs::kCurInode).value();
  auto ns = [](const fs::Attr& a) { return a.mtime * 1'000'000'000 + a.mtime_nsec; };
  EXPECT_LT(ns(before), ns(after_one));
  EXPECT_LT(ns(after_one), ns(after_two)) << "two renames in the same second";
  EXPECT_EQ(filesystem->unlink(fs::kCurInode, "a.eml:2,FS", 0).error().to_errno(), EROFS);
}

TEST_F(MaildirTest, UnlinkInCurOrNewDeletesTheMessage) {
  maildrop.add("a", make_message("a", kDate, 2));
  maildrop.add("b", make_message("b", kDate, 2));
  start_fs(maildir_options());
  ASSERT_TRUE(mv(fs::kNewInode, "a.eml", fs::kCurInode, "a.eml:2,ST").ok());
  ASSERT_TRUE(filesystem->unlink(fs::kCurInode, "a.eml:2,ST", 0).ok());
  EXPECT_EQ(filesystem->unlink(fs::kTmpInode, "b.eml", 0).error().to_errno(), EROFS);
  EXPECT_EQ(filesystem->unlink(fs::kRootInode, "b.eml", 0).error().to_errno(), EROFS);
  ASSERT_TRUE(flush().ok());
  EXPECT_EQ(maildrop.uidls(), std::vector<std::string>{"b"});
  EXPECT_THAT(names(fs::kCurInode), IsEmpty());
}

TEST_F(MaildirTest, AColonInAUidlIsEscapedSoItNeverStartsTheInfo) {
  maildrop.add("x:y", make_message("x", kDate, 2));
  start_fs(maildir_options());
  EXPECT_THAT(names(fs::kNewInode), ElementsAre("x%3Ay.eml"));
  ASSERT_TRUE(mv(fs::kNewInode, "x%3Ay.eml", fs::kCurInode, "x%3Ay.eml:2,S").ok());
  EXPECT_EQ(read_whole(ino_of("x%3Ay.eml:2,S", fs::kCurInode)).value(), make_message("x", kDate, 2));
  EXPECT_THAT(names(fs::kHeadersInode), ElementsAre("x:y.eml"));
}

// ---- MIME parts ----------------------------------------------------------------------------

const std::string kWithAttachment =
    "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= and more\r\n"
    "Date: " + kDate + "\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=C3=A9\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQF\r\n"
    "--b1--\r\n";

TEST_F(FsTest, PartsOfAMessageAreDecodedFilesFromOneRetr) {
  maildrop.add("m", kWithAttachment);
  fs::FsOptions o;
  o.prefetch_stubs = false;
  start_fs(o);
  EXPECT_EQ(root_names(), std::vector<std::string>{"m.eml"}) << ".parts is not listed";
  const auto parts = filesystem->lookup(fs::kRootInode, ".parts");
  ASSERT_TRUE(parts.ok());
  const auto folder = filesystem->lookup(fs::kPartsInode, "m");
  ASSERT_TRUE(folder.ok());
  EXPECT_TRUE(folder->is_dir);
  EXPECT_EQ(maildrop.retr_calls("m"), 0) << "naming the folder costs nothing";
  std::optional<Result<std::shared_ptr<const fs::DirSnapshot>>> opened;
  filesystem->open_directory(folder->ino, [&](auto r) { opened.emplace(std::move(r)); });
  ASSERT_TRUE(settle_until([&] { return opened.has_value(); }));
  ASSERT_TRUE(opened->ok()) << opened->error().describe();
  std::vector<std::string> listed;
  for (const auto& item : filesystem->read_directory(***opened, 0, 100)) listed.push_back(item.entry.name);
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[2], "part-1.txt");
  EXPECT_EQ(listed[3], "data.bin");
  EXPECT_EQ(maildrop.retr_calls("m"), 1);
  const auto text = filesystem->lookup(folder->ino, "part-1.txt");
  const auto data = filesystem->lookup(folder->ino, "data.bin");
  ASSERT_TRUE(text.ok() && data.ok());
  EXPECT_EQ(text->size, 5u);  // the CRLF before a boundary belongs to the boundary (RFC 2046)
  EXPECT_TRUE(text->size_exact);
  EXPECT_EQ(read_whole(text->ino).value(), "caf\xc3\xa9");
  EXPECT_EQ(read_whole(data->ino).value(), std::string("\0\1\2\3\4\5", 6));
  EXPECT_EQ(data->size, 6u);
  EXPECT_EQ(maildrop.retr_calls("m"), 1) << "parts are decoded from the cached message";
}

TEST_F(FsTest, SubjectAndFromAttributesAreDecodedAndOtherNamespacesUnsupported) {
  maildrop.add("m", kWithAttachment);
  start_fs();
  const auto ino = ino_of("m.eml");
  auto get = [&](const std::string& name) {
    std::optional<Result<std::optional<std::string>>> got;
    filesystem->getxattr(ino, name, [&](auto r) { got.emplace(std::move(r)); });
    EXPECT_TRUE(settle_until([&] { return got.has_value(); }));
    return std::move(*got);
  };
  EXPECT_EQ(get("user.mail.subject").value(), std::optional<std::string>("Gr\xc3\xbc\xc3\x9f" "e and more"));
  EXPECT_EQ(get("user.mail.from").value(), std::optional<std::string>("J\xc3\xbcrgen <j@example.org>"));
  EXPECT_EQ(get("user.other").value(), std::nullopt);
  auto selinux = get("security.selinux");
  ASSERT_FALSE(selinux.ok());
  EXPECT_EQ(selinux.error().to_errno(), ENOTSUP) << "so ls -l stops asking";
  const auto stub = ino_of("m.eml", fs::kHeadersInode);
  EXPECT_NE(read_whole(stub).value().find("=?UTF-8?B?R3LDvMOfZQ==?="), std::string::npos) << "raw in the stub";
}

}  // namespace
}  // namespace popfs::test
