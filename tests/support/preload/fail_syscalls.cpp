// LD_PRELOAD library for the mail client tests: makes rename, link and unlink fail with a
// chosen errno for paths under a prefix, to see what a real client (NeoMutt, notmuch) does
// when popfs refuses an operation, without a filesystem that refuses it. Configured by the
// environment (see popfs_test/fail_syscalls.hpp):
//   POPFS_FAIL_UNDER=/path    only paths starting with it (as the client spells them)
//   POPFS_FAIL_RENAME=18      errno for rename/renameat/renameat2 of a source under it
//   POPFS_FAIL_LINK=30        errno for link/linkat to a target under it
//   POPFS_FAIL_UNLINK=1       errno for unlink/unlinkat under it
// Built without sanitizers: it is loaded into programs that are not.
#include <dlfcn.h>
#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

bool refuse(const char* variable, const char* path) {
  const char* under = std::getenv("POPFS_FAIL_UNDER");
  const char* code = std::getenv(variable);
  if (under == nullptr || code == nullptr || path == nullptr || *under == '\0') return false;
  if (std::strncmp(path, under, std::strlen(under)) != 0) return false;
  errno = std::atoi(code);
  return true;
}

template <class Function>
Function next(const char* name) {
  return reinterpret_cast<Function>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int rename(const char* from, const char* to) {
  if (refuse("POPFS_FAIL_RENAME", from)) return -1;
  return next<int (*)(const char*, const char*)>("rename")(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  if (refuse("POPFS_FAIL_RENAME", from)) return -1;
  return next<int (*)(int, const char*, int, const char*)>("renameat")(from_dir, from, to_dir, to);
}

int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned int flags) {
  if (refuse("POPFS_FAIL_RENAME", from)) return -1;
  return next<int (*)(int, const char*, int, const char*, unsigned int)>("renameat2")(from_dir, from, to_dir, to, flags);
}

int link(const char* from, const char* to) {
  if (refuse("POPFS_FAIL_LINK", to)) return -1;
  return next<int (*)(const char*, const char*)>("link")(from, to);
}

int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
  if (refuse("POPFS_FAIL_LINK", to)) return -1;
  return next<int (*)(int, const char*, int, const char*, int)>("linkat")(from_dir, from, to_dir, to, flags);
}

int unlink(const char* path) {
  if (refuse("POPFS_FAIL_UNLINK", path)) return -1;
  return next<int (*)(const char*)>("unlink")(path);
}

int unlinkat(int dir, const char* path, int flags) {
  if (refuse("POPFS_FAIL_UNLINK", path)) return -1;
  return next<int (*)(int, const char*, int)>("unlinkat")(dir, path, flags);
}

}  // extern "C"
