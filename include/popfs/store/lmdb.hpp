#pragma once
// Thin RAII wrappers around the LMDB C API, used only inside the store layer.
//
// Failure model: MDB_NOTFOUND is a value (std::optional / bool); every other failure throws
// LmdbError naming the call and the table ("mdb_put(bodies): MDB_MAP_FULL: ..."). The
// exceptions never leave the store layer: Cache methods turn them into Errc::cache errors.
//
// Lifetimes: a Txn aborts in its destructor unless committed. A Cursor must be destroyed
// before its Txn commits or aborts (keep it in an inner scope). Every std::string_view
// returned here points into the LMDB map and is valid only until its Txn ends: copy what
// must outlive the transaction.

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace popfs::store::lmdb {

class LmdbError : public std::runtime_error {
 public:
  LmdbError(std::string_view call, int rc);
  int code() const noexcept { return rc_; }

 private:
  int rc_;
};

// Throws LmdbError unless rc is MDB_SUCCESS.
void check(int rc, std::string_view call);

inline std::string_view view_of(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}
inline MDB_val val_of(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB does not write through it
}

class Env {
 public:
  struct Settings {
    std::size_t map_size = 64U << 20;
    unsigned max_dbs = 16;
    unsigned max_readers = 256;
    unsigned flags = MDB_NOTLS;
  };
  static Env open(const std::filesystem::path& dir, const Settings& settings);

  Env() = default;
  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env();

  MDB_env* get() const noexcept { return env_; }
  std::size_t map_size() const;
  // LMDB requires that no transaction of this process is active during this call.
  void set_map_size(std::size_t bytes);
  void sync(bool force);
  // Frees reader slots left by processes that died (kill -9) holding a read transaction.
  void clear_stale_readers();

 private:
  explicit Env(MDB_env* env) : env_(env) {}
  MDB_env* env_ = nullptr;
};

class Txn {
 public:
  static Txn begin(const Env& env, unsigned flags);  // flags: 0 or MDB_RDONLY

  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&&) = delete;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  void commit();
  void abort() noexcept;
  MDB_txn* get() const noexcept { return txn_; }

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// A named table. The handle stays valid for the life of the Env once the opening
// transaction committed.
class Dbi {
 public:
  static Dbi open(const Txn& txn, const char* name, unsigned flags);
  Dbi() = default;

  std::optional<std::string_view> get(const Txn& txn, std::string_view key) const;
  void put(const Txn& txn, std::string_view key, std::string_view value, unsigned flags = 0) const;
  // Stores a value of `size` bytes and returns where to write it (MDB_RESERVE).
  char* reserve(const Txn& txn, std::string_view key, std::size_t size) const;
  bool del(const Txn& txn, std::string_view key) const;  // false if the key was absent
  void clear(const Txn& txn) const;                        // deletes every entry
  std::uint64_t entries(const Txn& txn) const;

  MDB_dbi handle() const noexcept { return dbi_; }
  const std::string& name() const noexcept { return name_; }

 private:
  Dbi(MDB_dbi dbi, std::string name) : dbi_(dbi), name_(std::move(name)) {}
  MDB_dbi dbi_ = 0;
  std::string name_;
};

class Cursor {
 public:
  struct Entry {
    std::string_view key;
    std::string_view value;
  };

  Cursor(const Txn& txn, const Dbi& dbi);
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() { mdb_cursor_close(cursor_); }

  std::optional<Entry> first() { return move(MDB_FIRST); }
  std::optional<Entry> last() { return move(MDB_LAST); }
  std::optional<Entry> next() { return move(MDB_NEXT); }
  // The first entry whose key is >= key.
  std::optional<Entry> seek(std::string_view key);
  void del();  // deletes the entry under the cursor

 private:
  std::optional<Entry> move(MDB_cursor_op op);
  MDB_cursor* cursor_ = nullptr;
  const Dbi* dbi_;
};

}  // namespace popfs::store::lmdb
