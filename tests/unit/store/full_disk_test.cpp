// A cache on a disk that fills up: the write fails with an error that says the disk is full
// (LMDB alone reports the short write as EIO), and what was committed before stays readable.
// Needs root for the tmpfs, as the mount tests need it for FUSE.

#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "popfs/store/cache.hpp"
#include "store_test_support.hpp"

namespace popfs::store {
namespace {

using testing::load_body;
using testing::mid;
using testing::open_cache;
using testing::pattern;
using testing::TempDir;

// A 6 MiB tmpfs of our own, unmounted when the test ends.
class SmallDisk {
 public:
  explicit SmallDisk(const std::filesystem::path& where) : where_(where) {
    std::filesystem::create_directories(where_);
    if (::mount("popfs-test", where_.c_str(), "tmpfs", 0, "size=6m,mode=0700") != 0) {
      error_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (error_.empty()) ::umount2(where_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path where_;
  std::string error_;
};

TEST(FullDisk, AWriteThatDoesNotFitSaysTheDiskIsFullAndKeepsWhatWasCommitted) {
  TempDir tmp;
  SmallDisk disk(tmp.path() / "disk");
  ASSERT_EQ(disk.error(), "") << "mounting a tmpfs (root needed)";
  auto cache = open_cache(tmp.path() / "disk" / "c", 1ULL << 30, 64ULL << 20);
  ASSERT_NE(cache, nullptr);
  std::vector<testing::ListedMessage> messages;
  for (int i = 0; i < 20; ++i) messages.push_back({mid("m" + std::to_string(i)), 1});
  ASSERT_TRUE(cache->apply_listing(testing::table_of(messages), 1));

  const std::string first = pattern("m0", 1 << 20);
  ASSERT_TRUE(testing::store_body(*cache, mid("m0"), first));
  std::string failure;
  for (int i = 1; i < 20 && failure.empty(); ++i) {
    const auto stored = testing::store_body(*cache, mid("m" + std::to_string(i)), pattern("m", 1 << 20));
    if (!stored) failure = stored.message();
  }
  ASSERT_FALSE(failure.empty()) << "20 MiB fitted on a 6 MiB disk";
  EXPECT_NE(failure.find("is full"), std::string::npos) << failure;
  EXPECT_NE(failure.find((tmp.path() / "disk" / "c").string()), std::string::npos) << "names the cache: " << failure;
  EXPECT_EQ(load_body(*cache, mid("m0"), 2 << 20), first);
}

}  // namespace
}  // namespace popfs::store
