#pragma once
// LMDB allows mdb_env_set_mapsize only while this process has no transaction open. Every
// transaction runs inside a Pass; resize() waits until no Pass is held, runs the change, and
// lets transactions in again. It prefers the resize: new passes wait while one is waiting,
// so a steady stream of readers cannot starve map growth.
// Never take a second Pass in a thread that already holds one.

#include <condition_variable>
#include <mutex>

namespace popfs::store {

class ResizeGate {
 public:
  class Pass {
   public:
    explicit Pass(ResizeGate& gate) : gate_(&gate) { gate_->enter(); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { release(); }
    void release() {
      if (gate_ != nullptr) gate_->leave();
      gate_ = nullptr;
    }

   private:
    ResizeGate* gate_;
  };

  template <class F>
  void resize(F&& change) {
    std::unique_lock lock(mutex_);
    ++waiting_resizes_;
    changed_.wait(lock, [&] { return active_ == 0 && !resizing_; });
    --waiting_resizes_;
    resizing_ = true;
    struct Reopen {
      ResizeGate* gate;
      std::unique_lock<std::mutex>* lock;
      ~Reopen() {
        gate->resizing_ = false;
        lock->unlock();
        gate->changed_.notify_all();
      }
    } reopen{this, &lock};
    change();
  }

 private:
  void enter() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return waiting_resizes_ == 0 && !resizing_; });
    ++active_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    if (--active_ == 0) changed_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  int active_ = 0;
  int waiting_resizes_ = 0;
  bool resizing_ = false;
};

}  // namespace popfs::store
