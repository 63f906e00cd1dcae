#pragma once
// The FUSE adapter: mounts a popfs::fs::Filesystem with the libfuse 3 low-level API. The only
// code in popfs that includes fuse_lowlevel.h. Each kernel request is answered exactly once,
// possibly later from a maildrop completion; no FUSE worker thread waits for the network.

#include <functional>
#include <memory>
#include <string>

#include "popfs/fs/filesystem.hpp"
#include "popfs/util/result.hpp"

namespace popfs::fuse {

struct MountConfig {
  std::string mountpoint;
  std::string fsname;  // shown in /proc/mounts, e.g. "popfs:user@host:995"
  bool allow_other = false;
  bool read_only = false;  // mount with MS_RDONLY as well (the core refuses unlink with -o ro)
  bool debug = false;      // libfuse's request trace on stderr
};

class Session {
 public:
  // Mounts now and starts answering requests at once (threads of its own), so the mount can
  // be used as soon as this returns. A failure is an Error with a readable message:
  // mountpoint missing, not a directory, already mounted/busy, /dev/fuse unavailable.
  static Result<std::unique_ptr<Session>> mount(fs::Filesystem& filesystem, const MountConfig& config);
  // Unmounts if still mounted, then shuts the filesystem core down (Filesystem::shutdown,
  // idempotent) so that every request it still holds is answered while libfuse can take the
  // reply. The Filesystem must outlive the Session and is not usable after it.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs on_ready (may be empty; the mount is live), then waits until the file system is
  // unmounted or stop() is called; returns when the mount is gone. Call it once.
  Result<void> serve(std::function<void()> on_ready = {});
  // Asks serve() to return and unmounts; safe from any thread and from signal handlers'
  // helper threads (not from a signal handler itself).
  void stop();

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace popfs::fuse
