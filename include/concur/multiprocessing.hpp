// concur/multiprocessing.hpp — Python's multiprocessing module (API.md §6): namespace
// concur::multiprocessing.
//
//   namespace mp = concur::multiprocessing;
//   mp::Process, mp::current_process()...   processes and the module's functions (process.hpp)
//   mp::main_guard(argc, argv)          Python's `if __name__ == "__main__":` (process.hpp)
//   mp::set_start_method, mp::get_context   fork, spawn, forkserver (context.hpp)
//   mp::Pipe(), mp::Connection          messages between threads and processes (connection.hpp)
//   mp::serialize, mp::deserialize      what crosses between processes, as bytes (serialization.hpp)
//   mp::Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
//                                       shared between processes (synchronize.hpp)
//   mp::Queue<T>, JoinableQueue<T>, SimpleQueue<T>   FIFO queues between processes (queues.hpp)
//   mp::Value<T>, mp::Array<T>           plain data in shared memory, with a lock (sharedctypes.hpp)
//   mp::ProcessError, mp::BufferTooShort, mp::RemoteError, mp::OwnerDied   (errors.hpp)
// Each header's opening comment is its contract.
#pragma once

#include "concur/multiprocessing/connection.hpp"
#include "concur/multiprocessing/context.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/process.hpp"
#include "concur/multiprocessing/queues.hpp"
#include "concur/multiprocessing/serialization.hpp"
#include "concur/multiprocessing/sharedctypes.hpp"
#include "concur/multiprocessing/synchronize.hpp"
#include "concur/multiprocessing/pool.hpp"
#include "concur/multiprocessing/process_pool_executor.hpp"
