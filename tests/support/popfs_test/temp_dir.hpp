#pragma once
// RAII temporary directory for tests. Mode 0755 so that unprivileged server processes
// (Dovecot's login and mail users) can traverse it; removed recursively in the destructor.

#include <filesystem>
#include <string_view>

namespace popfs::test {

class TempDir {
 public:
  // Creates <TMPDIR or /tmp>/<prefix>XXXXXX. Throws std::runtime_error on failure.
  explicit TempDir(std::string_view prefix = "popfs-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& child) const { return path_ / child; }

 private:
  std::filesystem::path path_;
};

// Writes bytes to a file exactly (binary), creating or truncating it. Throws on failure.
void write_file(const std::filesystem::path& file, std::string_view bytes);
// Reads a whole file as bytes. Throws on failure.
std::string read_file(const std::filesystem::path& file);

}  // namespace popfs::test
