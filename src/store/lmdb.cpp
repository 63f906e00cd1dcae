#include "popfs/store/lmdb.hpp"

namespace popfs::store::lmdb {
namespace {

std::string describe(std::string_view call, int rc) {
  std::string out(call);
  out += ": ";
  // The symbolic name first: it is what people search for.
  switch (rc) {
    case MDB_MAP_FULL: out += "MDB_MAP_FULL: "; break;
    case MDB_MAP_RESIZED: out += "MDB_MAP_RESIZED: "; break;
    case MDB_READERS_FULL: out += "MDB_READERS_FULL: "; break;
    case MDB_TXN_FULL: out += "MDB_TXN_FULL: "; break;
    case MDB_CORRUPTED: out += "MDB_CORRUPTED: "; break;
    case MDB_PANIC: out += "MDB_PANIC: "; break;
    case MDB_VERSION_MISMATCH: out += "MDB_VERSION_MISMATCH: "; break;
    case MDB_INVALID: out += "MDB_INVALID: "; break;
    case MDB_DBS_FULL: out += "MDB_DBS_FULL: "; break;
    case MDB_BAD_VALSIZE: out += "MDB_BAD_VALSIZE: "; break;
    default: break;
  }
  out += mdb_strerror(rc);
  return out;
}

std::string with_table(std::string_view call, std::string_view table) {
  std::string out(call);
  out += '(';
  out += table;
  out += ')';
  return out;
}

// Names the table only on failure: puts and gets run a million times for a big listing.
void check_table(int rc, std::string_view call, std::string_view table) {
  if (rc != MDB_SUCCESS) throw LmdbError(with_table(call, table), rc);
}

}  // namespace

LmdbError::LmdbError(std::string_view call, int rc) : std::runtime_error(describe(call, rc)), rc_(rc) {}

void check(int rc, std::string_view call) {
  if (rc != MDB_SUCCESS) throw LmdbError(call, rc);
}

Env Env::open(const std::filesystem::path& dir, const Settings& settings) {
  MDB_env* raw = nullptr;
  check(mdb_env_create(&raw), "mdb_env_create");
  Env env(raw);  // closes on every failure below
  check(mdb_env_set_maxdbs(raw, settings.max_dbs), "mdb_env_set_maxdbs");
  check(mdb_env_set_maxreaders(raw, settings.max_readers), "mdb_env_set_maxreaders");
  check(mdb_env_set_mapsize(raw, settings.map_size), "mdb_env_set_mapsize");
  check(mdb_env_open(raw, dir.c_str(), settings.flags, 0600), "mdb_env_open(" + dir.string() + ")");
  return env;
}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = std::exchange(other.env_, nullptr);
  }
  return *this;
}

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

std::size_t Env::map_size() const {
  MDB_envinfo info{};
  check(mdb_env_info(env_, &info), "mdb_env_info");
  return info.me_mapsize;
}

void Env::set_map_size(std::size_t bytes) { check(mdb_env_set_mapsize(env_, bytes), "mdb_env_set_mapsize"); }

void Env::sync(bool force) { check(mdb_env_sync(env_, force ? 1 : 0), "mdb_env_sync"); }

void Env::clear_stale_readers() {
  int dead = 0;
  check(mdb_reader_check(env_, &dead), "mdb_reader_check");
}

Txn Txn::begin(const Env& env, unsigned flags) {
  MDB_txn* raw = nullptr;
  check(mdb_txn_begin(env.get(), nullptr, flags, &raw), "mdb_txn_begin");
  return Txn(raw);
}

void Txn::commit() {
  // LMDB frees the transaction whether or not the commit succeeds.
  MDB_txn* raw = std::exchange(txn_, nullptr);
  check(mdb_txn_commit(raw), "mdb_txn_commit");
}

void Txn::abort() noexcept {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Dbi Dbi::open(const Txn& txn, const char* name, unsigned flags) {
  MDB_dbi dbi = 0;
  check_table(mdb_dbi_open(txn.get(), name, flags, &dbi), "mdb_dbi_open", name);
  return Dbi(dbi, name);
}

std::optional<std::string_view> Dbi::get(const Txn& txn, std::string_view key) const {
  MDB_val k = val_of(key);
  MDB_val v{};
  const int rc = mdb_get(txn.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check_table(rc, "mdb_get", name_);
  return view_of(v);
}

void Dbi::put(const Txn& txn, std::string_view key, std::string_view value, unsigned flags) const {
  MDB_val k = val_of(key);
  MDB_val v = val_of(value);
  check_table(mdb_put(txn.get(), dbi_, &k, &v, flags), "mdb_put", name_);
}

char* Dbi::reserve(const Txn& txn, std::string_view key, std::size_t size) const {
  MDB_val k = val_of(key);
  MDB_val v{size, nullptr};
  check_table(mdb_put(txn.get(), dbi_, &k, &v, MDB_RESERVE), "mdb_put", name_);
  return static_cast<char*>(v.mv_data);
}

bool Dbi::del(const Txn& txn, std::string_view key) const {
  MDB_val k = val_of(key);
  const int rc = mdb_del(txn.get(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  check_table(rc, "mdb_del", name_);
  return true;
}

void Dbi::clear(const Txn& txn) const { check_table(mdb_drop(txn.get(), dbi_, 0), "mdb_drop", name_); }

std::uint64_t Dbi::entries(const Txn& txn) const {
  MDB_stat stat{};
  check_table(mdb_stat(txn.get(), dbi_, &stat), "mdb_stat", name_);
  return stat.ms_entries;
}

Cursor::Cursor(const Txn& txn, const Dbi& dbi) : dbi_(&dbi) {
  check_table(mdb_cursor_open(txn.get(), dbi.handle(), &cursor_), "mdb_cursor_open", dbi.name());
}

std::optional<Cursor::Entry> Cursor::move(MDB_cursor_op op) {
  MDB_val k{};
  MDB_val v{};
  const int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check_table(rc, "mdb_cursor_get", dbi_->name());
  return Entry{view_of(k), view_of(v)};
}

std::optional<Cursor::Entry> Cursor::seek(std::string_view key) {
  MDB_val k = val_of(key);
  MDB_val v{};
  const int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check_table(rc, "mdb_cursor_get", dbi_->name());
  return Entry{view_of(k), view_of(v)};
}

void Cursor::del() { check_table(mdb_cursor_del(cursor_, 0), "mdb_cursor_del", dbi_->name()); }

}  // namespace popfs::store::lmdb
