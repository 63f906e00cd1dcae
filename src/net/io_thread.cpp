#include "popfs/net/io_thread.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace popfs::net {

IoThread::IoThread() : work_(context_.get_executor()) {
  thread_ = std::thread([this] {
    for (;;) {
      try {
        context_.run();
        return;
      } catch (const std::exception& e) {
        // A handler threw: log it and keep the loop alive for everything else.
        spdlog::error("network thread: unexpected exception: {}", e.what());
      }
    }
  });
}

IoThread::~IoThread() { stop(); }

void IoThread::stop() {
  if (!thread_.joinable()) return;
  work_.reset();
  thread_.join();
}

}  // namespace popfs::net
