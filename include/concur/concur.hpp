// <concur/concur.hpp> — every concur module.
#pragma once

#include "concur/errors.hpp"
#include "concur/threading.hpp"
#include "concur/queue.hpp"
#include "concur/futures.hpp"
#include "concur/deadlock.hpp"
#include "concur/sched.hpp"
#include "concur/coop.hpp"
#include "concur/pubsub.hpp"
#include "concur/actors.hpp"
#include "concur/multiprocessing.hpp"
#include "concur/asyncio.hpp"
