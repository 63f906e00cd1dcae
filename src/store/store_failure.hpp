#pragma once
// Inside the store layer a failure that is not an LMDB error (a missing record, a bad key,
// a damaged value, a file error) is thrown as StoreFailure; Cache methods catch it, and
// LmdbError, at the layer boundary and return the popfs::Error.

#include <exception>
#include <string>
#include <utility>

#include "popfs/util/error.hpp"

namespace popfs::store {

class StoreFailure : public std::exception {
 public:
  StoreFailure(Errc code, std::string message) : error_(code, std::move(message)) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return error_.message.c_str(); }

 private:
  Error error_;
};

}  // namespace popfs::store
