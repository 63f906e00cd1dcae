#pragma once
// What every component of the filesystem core is given. All of it outlives the components.

#include <functional>

#include "namespace.hpp"
#include "notes.hpp"
#include "popfs/fs/options.hpp"
#include "popfs/mailbox/maildrop.hpp"
#include "popfs/store/cache.hpp"
#include "popfs/util/strand.hpp"
#include "task_scope.hpp"

namespace popfs::fs {

struct CoreContext {
  mailbox::Maildrop& maildrop;
  store::Cache& cache;
  Namespace& names;
  TaskScope& tasks;     // every task and timer of the core goes through it
  Strand& store_queue;  // cache writes, one at a time, off the readers' path
  const FsOptions& options;
  std::function<void(Notes)> notify;  // to the kernel; never called with a lock held
  std::function<void(const Error&)> report_error;  // the last failure, for popfs status
};

// -o lf: CRLF line endings as LF.
std::string to_lf(std::string_view text);
// The text as the mount presents it (-o lf applied).
inline std::string present(const FsOptions& options, std::string text) {
  return options.lf ? to_lf(text) : std::move(text);
}

}  // namespace popfs::fs
