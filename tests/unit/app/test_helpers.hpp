#pragma once
// Small helpers shared by the app support tests: a private temporary directory and a fake
// environment.

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "popfs/app/environment.hpp"

namespace popfs::app::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "popfs-app-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes `content` to `name` with permission bits `mode`; returns the full path.
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const std::string full = file(name);
    {
      std::ofstream out(full, std::ios::binary | std::ios::trunc);
      out << content;
    }
    ::chmod(full.c_str(), mode);
    return full;
  }

 private:
  std::string path_;
};

// An environment made of exactly these variables.
inline EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

}  // namespace popfs::app::test
