// Thread dumps and thread states (threading::dump_threads, ThreadRef::state): a reading of what
// every thread's record says it waits for (wait_site.hpp) and holds.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <ostream>
#include <set>

#include "concur/detail/text.hpp"
#include "concur/threading/thread.hpp"
#include "threading/thread_record.hpp"

namespace concur::detail {

std::string describe_object(const WaitKind* kind, const void* object, std::string_view name) {
  if (!name.empty()) return quote(name);
  const std::string_view type = kind && !kind->type_name.empty() ? kind->type_name : "lock";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*s at %p", static_cast<int>(type.size()), type.data(), object);
  return buf;
}

WaitSnapshot snapshot_waits(const ThreadRecord& rec) {
  WaitSnapshot snap;
  MutexGuard g(rec.diag_mutex);
  // The site and the objects it points to stay valid while it is published: its thread cannot
  // leave the wait (end_wait) without this lock.
  snap.kind = rec.waiting.kind;
  snap.object = rec.waiting.object;
  snap.name = std::string(rec.waiting.name);
  snap.owner_key = rec.waiting.owner ? rec.waiting.owner->load(std::memory_order_relaxed) : 0;
  snap.word = rec.waiting.word;
  snap.timed = rec.waiting.timed;
  snap.seq = rec.wait_seq;
  snap.held.reserve(rec.held.size());
  for (const auto& h : rec.held) snap.held.push_back({h.object, h.kind, std::string(h.name)});
  return snap;
}

ThreadsSnapshot::ThreadsSnapshot() : records(all_thread_records()) {
  snaps.reserve(records.size());
  keys.reserve(records.size());
  for (auto& r : records) {
    snaps.push_back(snapshot_waits(*r));
    keys.push_back(r->key.load(std::memory_order_relaxed));
  }
}

std::size_t ThreadsSnapshot::index_of_key(std::uint64_t key) const noexcept {
  if (key == 0) return npos;
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return i;
  return npos;
}

std::string ThreadsSnapshot::name_of_key(std::uint64_t key) const {
  const std::size_t i = index_of_key(key);
  return i == npos ? std::string() : records[i]->get_name();
}

std::string ThreadsSnapshot::waiting_for(const WaitSnapshot& snap, bool with_owner) const {
  if (!snap.kind) return {};
  std::string text(snap.kind->name);
  if (snap.kind->type_name.empty()) return text;  // a wait on no object: "sleep"
  const std::string owner = name_of_key(snap.owner_key);
  if (snap.kind->adds_edge && !snap.kind->owned)  // waits for a thread to end: "join thread X"
    return text + " thread " +
           (owner.empty() ? describe_object(snap.kind, snap.object, snap.name) : quote(owner));
  text += " " + describe_object(snap.kind, snap.object, snap.name);
  if (with_owner && snap.owner_key != 0)
    text += " (held by " + (owner.empty() ? std::string("a thread concur does not know") : quote(owner)) + ")";
  return text;
}

std::vector<std::string> ThreadsSnapshot::holds(std::uint64_t key, const WaitSnapshot& snap) const {
  std::vector<std::string> out;
  std::set<const void*> seen;
  for (const auto& h : snap.held)
    if (seen.insert(h.object).second)
      out.push_back(std::string(h.kind->name) + " " +
                    describe_object(h.kind, h.object, h.name));
  if (key == 0) return out;
  for (const auto& other : snaps)
    if (other.kind && other.kind->owned && other.owner_key == key &&
        seen.insert(other.object).second)
      out.push_back(std::string(other.kind->name) + " " +
                    describe_object(other.kind, other.object, other.name));
  return out;
}

}  // namespace concur::detail

namespace concur::threading {

using detail::ThreadRecord;
using detail::WaitSnapshot;
using World = detail::ThreadsSnapshot;

std::string_view to_string(ThreadState state) noexcept {
  switch (state) {
    case ThreadState::NEW: return "NEW";
    case ThreadState::RUNNING: return "RUNNING";
    case ThreadState::BLOCKED: return "BLOCKED";
    case ThreadState::TERMINATED: return "TERMINATED";
  }
  return "?";
}
std::ostream& operator<<(std::ostream& os, ThreadState state) { return os << to_string(state); }
std::ostream& operator<<(std::ostream& os, const ThreadStatus& status) {
  os << status.state;
  if (!status.waiting_for.empty()) os << " waiting for " << status.waiting_for;
  return os;
}

namespace {

ThreadState state_of(const ThreadRecord& rec, const WaitSnapshot& snap) {
  switch (rec.phase.load(std::memory_order_acquire)) {
    case ThreadRecord::kNew: return ThreadState::NEW;
    case ThreadRecord::kFinished: return ThreadState::TERMINATED;
    default: return !snap.kind ? ThreadState::RUNNING : ThreadState::BLOCKED;
  }
}

std::string format_id(std::optional<std::uint64_t> v, bool hex) {
  if (!v) return "None";
  char buf[32];
  std::snprintf(buf, sizeof buf, hex ? "0x%" PRIx64 : "%" PRIu64, *v);
  return buf;
}

}  // namespace

ThreadStatus ThreadRef::state() const {
  const World world;  // the owners named in the answer need everyone's snapshot
  const WaitSnapshot snap = detail::snapshot_waits(*st_);
  ThreadStatus status;
  status.state = state_of(*st_, snap);
  if (status.state == ThreadState::BLOCKED) {
    status.wait_kind = std::string(snap.kind->name);
    status.waiting_for = world.waiting_for(snap);
  }
  if (status.state != ThreadState::TERMINATED && status.state != ThreadState::NEW)
    status.holds = world.holds(st_->key.load(std::memory_order_relaxed), snap);
  return status;
}

ThreadStatus Thread::state() const {
  if (!st_) throw RuntimeError("a moved-from Thread has no thread");
  return ThreadRef(st_).state();
}

std::string dump_threads() {
  const World world;
  std::string out = "Thread dump: " + std::to_string(world.records.size()) + " live thread" +
                    (world.records.size() == 1 ? "" : "s") + "\n";
  for (std::size_t i = 0; i < world.records.size(); ++i) {
    const ThreadRecord& rec = *world.records[i];
    const WaitSnapshot& snap = world.snaps[i];
    const ThreadRef ref(world.records[i]);
    const ThreadState state = state_of(rec, snap);
    // native_id() waits the few microseconds a thread just started takes to publish it.
    out += detail::quote(rec.get_name()) + " ident=" + format_id(ref.ident(), true) +
           " native_id=" + format_id(ref.native_id(), false) +
           " daemon=" + (rec.daemon.load() ? "true" : "false") + " " + std::string(to_string(state)) +
           "\n";
    if (state == ThreadState::BLOCKED) out += "    waiting for " + world.waiting_for(snap) + "\n";
    for (const auto& h : world.holds(world.keys[i], snap))
      out += "    holds " + h + "\n";
  }
  return out;
}

}  // namespace concur::threading
