#pragma once
// The store layer's boundary: runs a body that may throw LmdbError or StoreFailure and
// returns a popfs::Result instead. Nothing thrown inside the store leaves it.

#include <cerrno>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "popfs/store/lmdb.hpp"
#include "popfs/util/result.hpp"
#include "store_failure.hpp"

namespace popfs::store {

template <class F>
auto guarded(F&& body) -> Result<std::invoke_result_t<F>> {
  using T = std::invoke_result_t<F>;
  try {
    if constexpr (std::is_void_v<T>) {
      std::forward<F>(body)();
      return {};
    } else {
      return Result<T>(std::forward<F>(body)());
    }
  } catch (const StoreFailure& failure) {
    return failure.error();
  } catch (const lmdb::LmdbError& e) {
    return Error(e.code() == ENOSPC ? Errc::no_space : Errc::cache, e.what());
  } catch (const std::bad_alloc&) {
    return Error(Errc::cache, "out of memory in the cache");
  } catch (const std::exception& e) {
    return Error(Errc::cache, e.what());
  }
}

}  // namespace popfs::store
